/**
 * A task instance the state machine moved to `queued`: one try to send to its pool. It is the
 * state machine's output and the executor's input, so it lives here, below both; how it becomes
 * a BullMQ job (job id, priority, payload) is the executor's business (core/executor/task-job.ts).
 */
export interface QueuedTask {
  dagId: string;
  runId: string;
  dagRunId: number;
  taskId: string;
  tryNumber: number;
  pool: string;
  priorityWeight: number;
  /** The run's private BullMQ prefix, if it has one (see `dag_run.queue_prefix`). */
  queuePrefix?: string | null;
}

/** The `task_instance` columns (plus its run's `queue_prefix`) a queued task is made from. */
export type QueuedTaskRow = {
  dag_id: string;
  run_id: string;
  dag_run_id: number;
  task_id: string;
  try_number: number;
  pool: string;
  priority_weight: number;
  queue_prefix: string | null;
};

/** A `task_instance` row (plus its run's `queue_prefix`) as the try to send. */
export function queuedTaskFromRow(row: QueuedTaskRow): QueuedTask {
  return {
    dagId: row.dag_id,
    runId: row.run_id,
    dagRunId: row.dag_run_id,
    taskId: row.task_id,
    tryNumber: row.try_number,
    pool: row.pool,
    priorityWeight: row.priority_weight,
    queuePrefix: row.queue_prefix,
  };
}
