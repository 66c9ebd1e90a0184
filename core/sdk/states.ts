/** Airflow's task-instance states. `none` = not yet scheduled. */
export const TASK_STATES = [
  'none',
  'scheduled',
  'queued',
  'running',
  'success',
  'failed',
  'up_for_retry',
  'upstream_failed',
  'skipped',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** States after which a try will not change again by itself. */
export const FINISHED_TASK_STATES = ['success', 'failed', 'upstream_failed', 'skipped'] as const;
export type FinishedTaskState = (typeof FINISHED_TASK_STATES)[number];

export function isFinishedTaskState(state: TaskState): state is FinishedTaskState {
  return (FINISHED_TASK_STATES as readonly string[]).includes(state);
}

export const DAG_RUN_STATES = ['queued', 'running', 'success', 'failed'] as const;
export type DagRunState = (typeof DAG_RUN_STATES)[number];

export const RUN_TYPES = ['scheduled', 'manual', 'backfill'] as const;
export type RunType = (typeof RUN_TYPES)[number];
