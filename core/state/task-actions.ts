import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import type { Dag } from '../sdk/dag.ts';
import type { DagRunState, TaskState } from '../sdk/states.ts';
import { finishedRunState } from './run-state.ts';

/** An operator's changes to task instances (clear, mark success / failed), and what they do to their run. */

/**
 * Clears task instances (Airflow's clear): they go back to `none` with their full retries
 * again, and a finished run goes back to `queued` so the scheduler runs them. A running try
 * that is cleared is stopped by its worker at the next heartbeat. With `expected` (each
 * instance's state and try number read just before) it is a compare-and-set: an instance that
 * changed in between is left alone and missing from the result. Call with the DAG locked.
 */
export async function clearTaskInstances(
  tx: Queryable,
  dag: Dag,
  dagRunId: number,
  taskIds: readonly string[],
  expected?: readonly { taskId: string; state: TaskState; tryNumber: number }[],
): Promise<string[]> {
  if (taskIds.length === 0) return [];
  const seen = new Map((expected ?? []).map((e) => [e.taskId, e]));
  const payload = JSON.stringify(
    taskIds.map((taskId) => ({ task_id: taskId, retries: dag.tasks.get(taskId)?.retries ?? 0, state: seen.get(taskId)?.state ?? null, try_number: seen.get(taskId)?.tryNumber ?? null })),
  );
  const cleared = await tx.execute<{ task_id: string }>(sql`
    update task_instance ti set
      state = 'none', max_tries = ti.try_number + v.retries + 1, next_retry_at = null, queued_at = null,
      start_date = null, end_date = null, duration_ms = null, heartbeat_at = null, output = null, error = null,
      updated_at = now()
    from json_to_recordset(${payload}::json) as v(task_id text, retries int, state text, try_number int)
    where ti.dag_run_id = ${dagRunId} and ti.task_id = v.task_id
      and (v.state is null or ti.state = v.state) and (v.try_number is null or ti.try_number = v.try_number)
    returning ti.task_id
  `);
  await tx.execute(sql`update dag_run set state = 'queued', end_date = null where id = ${dagRunId} and state in ('success', 'failed')`);
  return cleared.rows.map((row) => row.task_id);
}

/** The outcome of {@link markTaskInstance}. */
export interface MarkedTask {
  taskId: string;
  previousState: TaskState;
  state: 'success' | 'failed';
  tryNumber: number;
}

/**
 * Marks one task instance `success` or `failed` (an operator's decision), as a compare-and-set
 * on the state and try number read just before: returns null when the instance changed in
 * between. A `running` try is ended and archived in `task_try` with the marked state; its
 * worker's late finish no longer matches (`finishTries` wants `running` and that try number)
 * and its next heartbeat tells it to stop. Call with the DAG locked.
 */
export async function markTaskInstance(
  tx: Queryable,
  dagRunId: number,
  taskId: string,
  expected: { state: TaskState; tryNumber: number },
  state: 'success' | 'failed',
  note: string,
): Promise<MarkedTask | null> {
  const result = await tx.execute<{ task_id: string; try_number: number }>(sql`
    with updated as (
      update task_instance ti set
        state = ${state}, end_date = now(),
        duration_ms = case when ti.start_date is null then null else extract(epoch from (now() - ti.start_date)) * 1000 end,
        next_retry_at = null, heartbeat_at = null,
        error = ${state === 'failed' ? note : null},
        output = case when ${state} = 'success' then ti.output else null end,
        updated_at = now()
      where ti.dag_run_id = ${dagRunId} and ti.task_id = ${taskId}
        and ti.state = ${expected.state} and ti.try_number = ${expected.tryNumber}
      returning ti.*
    ), archived as (
      insert into task_try (dag_run_id, task_id, try_number, state, start_date, end_date, duration_ms, hostname, pid, output, error)
      select dag_run_id, task_id, try_number, state, start_date, end_date, duration_ms, hostname, pid, output, error
      from updated where ${expected.state} = 'running' and try_number >= 1
      on conflict (dag_run_id, task_id, try_number) do update set
        state = excluded.state, end_date = excluded.end_date, duration_ms = excluded.duration_ms, error = excluded.error
    )
    select task_id, try_number from updated
  `);
  const row = result.rows[0];
  return row ? { taskId: row.task_id, previousState: expected.state, state, tryNumber: row.try_number } : null;
}

/**
 * Re-derives a finished run's state from its task instances after an operator changed one
 * (marked a leaf success, say). Returns the new state, or null when the run is not finished or
 * not every task is done. Call with the DAG locked.
 */
export async function refreshFinishedRunState(tx: Queryable, dag: Dag, dagRunId: number): Promise<DagRunState | null> {
  const rows = await tx.execute<{ task_id: string; state: TaskState }>(sql`select task_id, state from task_instance where dag_run_id = ${dagRunId}`);
  const final = finishedRunState(dag, new Map(rows.rows.map((row) => [row.task_id, row.state])));
  if (!final) return null;
  const updated = await tx.execute<{ state: DagRunState }>(sql`
    update dag_run set state = ${final}, end_date = case when state = ${final} then end_date else now() end
    where id = ${dagRunId} and state in ('success', 'failed')
    returning state
  `);
  return updated.rows[0]?.state ?? null;
}