import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import type { QueuedTask } from '../executor/task-job.ts';
import type { Dag } from '../sdk/dag.ts';
import type { JsonObject } from '../sdk/json.ts';
import type { RunType } from '../sdk/states.ts';
import type { DataInterval } from '../sdk/schedule.ts';
import { advanceRuns, createTaskInstances, lockDags, type DagLookup } from './transitions.ts';

/** Airflow's run ids: `<run type>__<logical date ISO>`. */
export function runIdFor(runType: RunType, logicalDate: Date): string {
  return `${runType}__${logicalDate.toISOString()}`;
}

/** The data interval of a run at `logicalDate`: the cron interval starting there, or the latest complete one for a manual run. */
export function dataIntervalFor(dag: Dag, logicalDate: Date, runType: RunType): DataInterval {
  if (!dag.timetable) return { start: logicalDate, end: logicalDate };
  if (runType === 'manual') {
    // As Airflow: a manual run covers the latest interval that ended at or before its logical date.
    return dag.timetable.latestCompleteInterval(logicalDate);
  }
  return dag.timetable.intervalFor(logicalDate);
}

export interface NewDagRun {
  dagId: string;
  runType: RunType;
  logicalDate: Date;
  dataInterval: DataInterval;
  conf?: JsonObject;
  runId?: string;
  triggeredBy?: string;
  /** Private BullMQ prefix for the run's jobs (`dags test`). */
  queuePrefix?: string;
}

export class DagRunExistsError extends Error {
  override readonly name = 'DagRunExistsError';
}

/** Inserts a `queued` run; returns null when a run with that run id (or scheduled logical date) exists. */
export async function insertDagRun(tx: Queryable, run: NewDagRun): Promise<{ id: number; runId: string } | null> {
  const runId = run.runId ?? runIdFor(run.runType, run.logicalDate);
  const result = await tx.execute<{ id: number }>(sql`
    insert into dag_run (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, conf, triggered_by, queue_prefix)
    values (${run.dagId}, ${runId}, ${run.runType}, ${run.logicalDate.toISOString()}, ${run.dataInterval.start.toISOString()},
            ${run.dataInterval.end.toISOString()}, 'queued', ${JSON.stringify(run.conf ?? {})}::jsonb, ${run.triggeredBy ?? null}, ${run.queuePrefix ?? null})
    on conflict do nothing
    returning id
  `);
  const row = result.rows[0];
  return row ? { id: row.id, runId } : null;
}

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
