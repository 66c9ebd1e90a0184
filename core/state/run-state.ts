import type { Dag } from '../sdk/dag.ts';
import { isFinishedTaskState, type DagRunState, type TaskState } from '../sdk/states.ts';
import { evaluateTriggerRule } from './trigger-rules.ts';

/**
 * Settles every task in state `none` whose trigger rule can now be decided, walking the DAG
 * in dependency order so `upstream_failed` and `skipped` cascade in one pass. Returns the
 * changes (`scheduled` = ready to queue).
 */
export function settleTasks(dag: Dag, states: ReadonlyMap<string, TaskState>): Map<string, TaskState> {
  const current = new Map(states);
  const changes = new Map<string, TaskState>();
  for (const taskId of dag.topologicalOrder) {
    if (current.get(taskId) !== 'none') continue;
    const definition = dag.task(taskId);
    const decision = evaluateTriggerRule(
      definition.triggerRule,
      definition.upstreamIds.map((upstreamId) => current.get(upstreamId) ?? 'none'),
    );
    if (decision === 'wait') continue;
    const next: TaskState = decision === 'run' ? 'scheduled' : decision;
    current.set(taskId, next);
    changes.set(taskId, next);
  }
  return changes;
}

/**
 * A run's state once every task is done, from its leaves (as Airflow): success when every leaf
 * succeeded or was skipped, failed otherwise. `null` while any task is unfinished.
 */
export function finishedRunState(dag: Dag, states: ReadonlyMap<string, TaskState>): DagRunState | null {
  for (const taskId of dag.tasks.keys()) {
    if (!isFinishedTaskState(states.get(taskId) ?? 'none')) return null;
  }
  const leavesOk = dag.leaves.every((taskId) => {
    const state = states.get(taskId);
    return state === 'success' || state === 'skipped';
  });
  return leavesOk ? 'success' : 'failed';
}

/** Delay before try `tryNumber + 1`, after try `tryNumber` failed. */
export function retryDelayMs(
  task: { retryDelayMs: number; retryExponentialBackoff: boolean; maxRetryDelayMs: number },
  failedTryNumber: number,
): number {
  if (!task.retryExponentialBackoff || task.retryDelayMs === 0) return Math.min(task.retryDelayMs, task.maxRetryDelayMs);
  // Capping the exponent keeps the product finite for absurd try numbers.
  const base = task.retryDelayMs * 2 ** Math.min(Math.max(0, failedTryNumber - 1), 60);
  return Math.min(base, task.maxRetryDelayMs);
}
