import { sql, type SQL } from 'drizzle-orm';
import type { Queryable } from '../client.ts';
import type { DagRunRow } from '../schema/dag-run.ts';
import type { DagRunState, RunType, TaskState } from '../../sdk/states.ts';
import type { JsonObject } from '../../sdk/json.ts';

/** A recent run, as the DAG list shows it. */
export interface RecentRun {
  runId: string;
  state: DagRunState;
  logicalDate: string;
  runType: RunType;
}

/** For every DAG: its latest runs (newest first) and how many runs are active. One statement. */
export async function recentRunsByDag(db: Queryable, perDag: number): Promise<Map<string, { recent: RecentRun[]; active: number }>> {
  const result = await db.execute<{ dag_id: string; recent: RecentRun[] | null; active: number }>(sql`
    select d.dag_id, r.recent,
      (select count(*) from dag_run a where a.dag_id = d.dag_id and a.state in ('queued', 'running'))::int as active
    from dag d
    left join lateral (
      select json_agg(json_build_object('runId', x.run_id, 'state', x.state, 'logicalDate', x.logical_date, 'runType', x.run_type)) as recent
      from (
        select run_id, state, logical_date, run_type from dag_run
        where dag_id = d.dag_id order by logical_date desc, id desc limit ${perDag}
      ) x
    ) r on true
  `);
  return new Map(result.rows.map((row) => [row.dag_id, { recent: row.recent ?? [], active: row.active }]));
}

export interface RunsPageQuery {
  limit: number;
  /** Keyset cursor: runs older (by logical date, then id) than the run with this id. */
  before?: number;
  state?: DagRunState;
  runType?: RunType;
}

/**
 * One page of a DAG's runs, newest logical date first. Keyset pagination: the cursor is the
 * last run's id; its logical date bounds the index range scan (`logical_date <= …`), so a deep
 * page costs as much as the first one.
 */
export function runsPageQuery(dagId: string, query: RunsPageQuery): SQL {
  const conditions: SQL[] = [sql`dag_id = ${dagId}`];
  if (query.state) conditions.push(sql`state = ${query.state}`);
  if (query.runType) conditions.push(sql`run_type = ${query.runType}`);
  if (query.before !== undefined) {
    const cursorDate = sql`(select c.logical_date from dag_run c where c.id = ${query.before})`;
    conditions.push(sql`logical_date <= ${cursorDate}`);
    conditions.push(sql`(logical_date < ${cursorDate} or id < ${query.before})`);
  }
  return sql`
    select id, dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, conf,
           queued_at, start_date, end_date, triggered_by
    from dag_run where ${sql.join(conditions, sql` and `)}
    order by logical_date desc, id desc limit ${query.limit}
  `;
}

export type RunSummary = Omit<DagRunRow, 'queuePrefix'>;

export async function listRunsPage(db: Queryable, dagId: string, query: RunsPageQuery): Promise<RunSummary[]> {
  const result = await db.execute<{
    id: number;
    dag_id: string;
    run_id: string;
    run_type: RunType;
    logical_date: Date;
    data_interval_start: Date;
    data_interval_end: Date;
    state: DagRunState;
    conf: JsonObject;
    queued_at: Date;
    start_date: Date | null;
    end_date: Date | null;
    triggered_by: string | null;
  }>(runsPageQuery(dagId, query));
  const date = (value: Date | string | null) => (value === null ? null : new Date(value));
  return result.rows.map((row) => ({
    id: row.id,
    dagId: row.dag_id,
    runId: row.run_id,
    runType: row.run_type,
    logicalDate: new Date(row.logical_date),
    dataIntervalStart: new Date(row.data_interval_start),
    dataIntervalEnd: new Date(row.data_interval_end),
    state: row.state,
    conf: row.conf,
    queuedAt: new Date(row.queued_at),
    startDate: date(row.start_date),
    endDate: date(row.end_date),
    triggeredBy: row.triggered_by,
  }));
}

/** Does the DAG have a run with this id (a valid cursor)? */
export async function runBelongsToDag(db: Queryable, dagId: string, id: number): Promise<boolean> {
  const result = await db.execute(sql`select 1 from dag_run where id = ${id} and dag_id = ${dagId}`);
  return result.rows.length > 0;
}

/** A cell of the grid: one task instance, without its output. */
export interface GridCell {
  dagRunId: number;
  taskId: string;
  state: TaskState;
  tryNumber: number;
  maxTries: number;
  startDate: string | null;
  endDate: string | null;
  durationMs: number | null;
}

/** The task instances of the given runs (the grid's cells), by primary key. */
export async function gridCells(db: Queryable, dagRunIds: readonly number[]): Promise<GridCell[]> {
  if (dagRunIds.length === 0) return [];
  const result = await db.execute<{
    dag_run_id: number;
    task_id: string;
    state: TaskState;
    try_number: number;
    max_tries: number;
    start_date: Date | null;
    end_date: Date | null;
    duration_ms: number | null;
  }>(sql`
    select dag_run_id, task_id, state, try_number, max_tries, start_date, end_date, duration_ms
    from task_instance where dag_run_id = any(${sql.param([...dagRunIds])}::bigint[])
  `);
  const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());
  return result.rows.map((row) => ({
    dagRunId: row.dag_run_id,
    taskId: row.task_id,
    state: row.state,
    tryNumber: row.try_number,
    maxTries: row.max_tries,
    startDate: iso(row.start_date),
    endDate: iso(row.end_date),
    durationMs: row.duration_ms,
  }));
}

/** Log lines of one try after line id `after`, oldest first (for paging and tailing). */
export async function readLogPage(db: Queryable, dagRunId: number, taskId: string, tryNumber: number, options: { after?: number; limit: number }) {
  const result = await db.execute<{ id: number; logged_at: Date; level: string; message: string }>(sql`
    select id, logged_at, level, message from task_log
    where dag_run_id = ${dagRunId} and task_id = ${taskId} and try_number = ${tryNumber} and id > ${options.after ?? 0}
    order by id limit ${options.limit}
  `);
  return result.rows.map((row) => ({ id: row.id, loggedAt: new Date(row.logged_at).toISOString(), level: row.level, message: row.message }));
}
