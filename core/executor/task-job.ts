import type { QueuedTask } from '../state/queued-task.ts';

/** The payload of one BullMQ job: one try of one task instance. Everything else is read from PostgreSQL. */
export type TaskJobData = Pick<QueuedTask, 'dagId' | 'runId' | 'dagRunId' | 'taskId' | 'tryNumber'>;

/**
 * The deterministic BullMQ job id of a try: `dag.run.task.try`. Adding a job whose id exists
 * is a no-op, which makes enqueueing idempotent. BullMQ forbids `:` in custom ids, so it is
 * escaped (with `%`, itself escaped first, so distinct tries never share an id).
 */
export function jobIdFor(job: TaskJobData): string {
  const escape = (part: string) => part.replaceAll('%', '%25').replaceAll(':', '%3A').replaceAll('.', '%2E');
  return [escape(job.dagId), escape(job.runId), escape(job.taskId), String(job.tryNumber)].join('.');
}

/** BullMQ priority (1 = first) from an Airflow-style priority weight (higher = first). */
export function bullPriorityFor(priorityWeight: number): number {
  return Math.min(2_097_152, Math.max(1, 1_000_000 - priorityWeight));
}
