import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { lockDags } from '../db/transaction.ts';
import { advanceRuns, createTaskInstances, type DagLookup } from './advance.ts';
import type { QueuedTask } from './queued-task.ts';

/**
 * Starts queued runs of the given DAGs, oldest logical date first, up to each DAG's
 * `maxActiveRuns`; creates their task instances and queues their first tasks. Paused DAGs
 * keep their runs queued. Locks the DAGs (skipping ones another process holds, if asked).
 */
export async function startQueuedRuns(
  tx: Queryable,
  dags: DagLookup,
  dagIds: readonly string[],
  options: { skipLocked?: boolean } = {},
): Promise<QueuedTask[]> {
  const locked = await lockDags(tx, dagIds, options);
  if (locked.length === 0) return [];
  const candidates = await tx.execute<{ id: number; run_id: string; dag_id: string }>(sql`
    with running as (
      select dag_id, count(*) as n from dag_run where state = 'running' and dag_id = any(${sql.param(locked)}::text[]) group by dag_id
    ), ranked as (
      select r.id, r.run_id, r.dag_id, row_number() over (partition by r.dag_id order by r.logical_date, r.id) as rn
      from dag_run r where r.state = 'queued' and r.dag_id = any(${sql.param(locked)}::text[])
    )
    select ranked.id, ranked.run_id, ranked.dag_id from ranked
    join dag d on d.dag_id = ranked.dag_id and not d.is_paused
    left join running on running.dag_id = ranked.dag_id
    where ranked.rn <= d.max_active_runs - coalesce(running.n, 0)
  `);
  const started: number[] = [];
  for (const run of candidates.rows) {
    const dag = dags.get(run.dag_id);
    if (!dag) continue;
    await createTaskInstances(tx, dag, { id: run.id, runId: run.run_id });
    started.push(run.id);
  }
  if (started.length === 0) return [];
  await tx.execute(sql`
    update dag_run set state = 'running', start_date = coalesce(start_date, now()), end_date = null
    where id = any(${sql.param(started)}::bigint[]) and state = 'queued'
  `);
  return (await advanceRuns(tx, dags, started)).queued;
}
