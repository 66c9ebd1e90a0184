import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { Harness } from './harness.ts';

/** The `web_actions` DAG (extract → clean/enrich → join → publish, clean → report) for the clear / mark dialog tests. */
export const ACTION_DAGS = fileURLToPath(new URL('../fixtures/dags-actions', import.meta.url));
export const ACTION_DAG = 'web_actions';

/** A task's state and try number, as a test sets it. */
export type Seeded = [state: string, tryNumber: number];

/** A failed run: clean failed, what follows it upstream_failed. */
export const FAILED_RUN: Record<string, Seeded> = {
  extract: ['success', 1],
  clean: ['failed', 1],
  enrich: ['success', 1],
  join: ['upstream_failed', 0],
  publish: ['upstream_failed', 0],
  report: ['upstream_failed', 0],
};

/**
 * A run of `web_actions` whose task instances are exactly `states` (no workers run in these
 * tests, so nothing moves them on by itself), and whose run state is `runState`.
 */
export async function seededRun(harness: Harness, states: Record<string, Seeded>, runState: 'running' | 'failed' | 'success' = 'failed') {
  const run = await harness.trigger(ACTION_DAG);
  for (const [taskId, [state, tryNumber]] of Object.entries(states)) {
    await harness.db.execute(sql`
      insert into task_instance (dag_run_id, task_id, dag_id, run_id, state, try_number, max_tries, pool, priority_weight, start_date, end_date)
      values (${run.dagRunId}, ${taskId}, ${ACTION_DAG}, ${run.runId}, ${state}, ${tryNumber}, ${Math.max(1, tryNumber)}, 'default', 1,
        ${tryNumber > 0 ? sql`now()` : null}, ${tryNumber > 0 && state !== 'running' ? sql`now()` : null})
      on conflict (dag_run_id, task_id) do update set state = excluded.state, try_number = excluded.try_number, max_tries = excluded.max_tries,
        start_date = excluded.start_date, end_date = excluded.end_date, queued_at = null, updated_at = now() - interval '1 minute'
    `);
  }
  await harness.db.execute(sql`update dag_run set state = ${runState}, end_date = ${runState === 'running' ? null : sql`now()`} where id = ${run.dagRunId}`);
  return run;
}

/** Every task instance of a run: taskId → its state, try number and last update (a change of any of them shows). */
export async function snapshot(harness: Harness, dagRunId: number): Promise<Record<string, { state: string; tryNumber: number; maxTries: number; updatedAt: string }>> {
  const rows = await harness.db.execute<{ task_id: string; state: string; try_number: number; max_tries: number; updated_at: string }>(
    sql`select task_id, state, try_number, max_tries, updated_at::text from task_instance where dag_run_id = ${dagRunId} order by task_id`,
  );
  return Object.fromEntries(rows.rows.map((r) => [r.task_id, { state: r.state, tryNumber: r.try_number, maxTries: r.max_tries, updatedAt: r.updated_at }]));
}

/** Sets one task instance's state and try number behind the UI's back (another try started, say). */
export async function setTask(harness: Harness, dagRunId: number, taskId: string, state: string, tryNumber: number): Promise<void> {
  await harness.db.execute(sql`update task_instance set state = ${state}, try_number = ${tryNumber}, max_tries = greatest(max_tries, ${tryNumber}), updated_at = now() where dag_run_id = ${dagRunId} and task_id = ${taskId}`);
}
