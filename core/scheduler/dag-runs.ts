import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import type { Dag } from '../sdk/dag.ts';
import type { JsonObject } from '../sdk/json.ts';
import type { RunType } from '../sdk/states.ts';
import type { DataInterval } from '../sdk/schedule.ts';

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
