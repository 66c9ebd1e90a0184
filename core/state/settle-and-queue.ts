import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { executeNamed } from '../db/named-statements.ts';
import type { TaskState } from '../sdk/states.ts';
import { queuedTaskFromRow, type QueuedTask, type QueuedTaskRow } from './queued-task.ts';

/** Limits which runs' tasks may be queued (a `dags test` process queues only its own run). */
export interface QueueScope {
  onlyDagRunIds?: readonly number[];
}

/** A task instance in state `none` whose trigger rule decided its next state. */
export interface SettledTask {
  dag_run_id: number;
  task_id: string;
  state: TaskState;
}

/**
 * Queues `scheduled` task instances, and `up_for_retry` ones whose delay has passed, of running
 * runs, highest priority weight first, up to each DAG's `maxActiveTasks` (queued + running).
 * Each queued instance starts a new try.
 *
 * `settled` are `none` task instances whose trigger rules were just decided (by
 * `settleTasks`); the same statement writes them (compare-and-set from `none`), and a
 * newly `scheduled` one competes for slots as if it had been written first: it may go straight
 * to `queued`. Every row is written once, with exactly the columns the two steps would write.
 * Returns the queued tries, and which task instances it wrote (by {@link settledKey}). Call with
 * the DAGs locked.
 */
export async function settleAndQueue(
  tx: Queryable,
  dagIds: readonly string[],
  scope: QueueScope,
  settled: readonly SettledTask[],
): Promise<{ queued: QueuedTask[]; written: Set<string> }> {
  if (dagIds.length === 0 && settled.length === 0) return { queued: [], written: new Set() };
  const runScope = (column: string) =>
    scope.onlyDagRunIds ? sql`and ${sql.raw(column)} = any(${sql.param([...scope.onlyDagRunIds])}::bigint[])` : sql``;
  const result = await executeNamed<QueuedTaskRow & { state: TaskState }>(tx, sql`
    with settled as materialized (
      -- Settled tasks of running runs only (as every caller reads them). A newly scheduled one may
      -- be queued in this statement when its DAG is one being queued for and it is in scope; every
      -- other settled task is written as decided.
      select ti.dag_run_id, ti.task_id, ti.dag_id, ti.priority_weight, v.state,
             (v.state = 'scheduled' and ti.dag_id = any(${sql.param([...dagIds])}::text[])
               ${scope.onlyDagRunIds ? sql`and ti.dag_run_id = any(${sql.param([...scope.onlyDagRunIds])}::bigint[])` : sql``}) as eligible
      from json_to_recordset(${JSON.stringify(settled)}::json) as v(dag_run_id bigint, task_id text, state text)
      -- One primary-key lookup per settled task (offset 0 keeps the subquery apart, so no plan
      -- scans every 'none' task instead).
      cross join lateral (
        select t.dag_run_id, t.task_id, t.dag_id, t.priority_weight from task_instance t
        where t.dag_run_id = v.dag_run_id and t.task_id = v.task_id and t.state = ${'none'}::text
        offset 0
      ) ti
      join dag_run r on r.id = ti.dag_run_id and r.state = 'running'
    ), candidates as materialized (
      -- Per DAG and state through the (dag_id, state) index: never a walk of every DAG's active
      -- tasks (and, without vacuum, every old version of one) in the partial index on state.
      select ti.dag_run_id, ti.task_id, ti.dag_id, ti.priority_weight, ti.expected
      from unnest(${sql.param([...dagIds])}::text[]) as d(dag_id)
      cross join lateral (
        select t.dag_run_id, t.task_id, t.dag_id, t.priority_weight, t.state as expected from task_instance t
        where t.dag_id = d.dag_id and t.state = 'scheduled'
        union all
        select t.dag_run_id, t.task_id, t.dag_id, t.priority_weight, t.state as expected from task_instance t
        where t.dag_id = d.dag_id and t.state = 'up_for_retry' and t.next_retry_at <= now()
      ) ti
      join dag_run r on r.id = ti.dag_run_id and r.state = 'running'
      where true ${runScope('ti.dag_run_id')}
      union all
      select s.dag_run_id, s.task_id, s.dag_id, s.priority_weight, 'none' as expected from settled s where s.eligible
    ), active as materialized (
      -- Counted once (materialized: never re-run per candidate, whatever the plan), and only for
      -- DAGs with something to queue: a finished try of a huge run queues nothing.
      -- Per DAG and state through the (dag_id, state) index, as above.
      select d.dag_id,
             (select count(*) from task_instance ti where ti.dag_id = d.dag_id and ti.state = 'queued')
             + (select count(*) from task_instance ti where ti.dag_id = d.dag_id and ti.state = 'running') as n
      from (select distinct dag_id from candidates) d
    ), ranked as materialized (
      select c.dag_run_id, c.task_id, c.dag_id, c.expected,
             row_number() over (partition by c.dag_id order by c.priority_weight desc, c.dag_run_id, c.task_id) as rn
      from candidates c
    ), quota as materialized (
      select d.dag_id, d.max_active_tasks - coalesce(a.n, 0) as free
      from dag d left join active a on a.dag_id = d.dag_id
      where d.dag_id in (select distinct dag_id from candidates)
    ), writes as (
      -- Queued: candidates within their DAG's free slots. A newly scheduled task beyond them stays
      -- scheduled; other settled tasks get their decided state. No row appears twice.
      select c.dag_run_id, c.task_id, c.expected, case when c.rn <= q.free then 'queued' else 'scheduled' end as state
      from ranked c join quota q on q.dag_id = c.dag_id
      where c.rn <= q.free or c.expected = 'none'
      union all
      select s.dag_run_id, s.task_id, 'none' as expected, s.state from settled s where not s.eligible
    )
    update task_instance ti set
      state = w.state,
      try_number = case when w.state = 'queued' then ti.try_number + 1 else ti.try_number end,
      queued_at = case when w.state = 'queued' then now() else ti.queued_at end,
      next_retry_at = case when w.state = 'queued' then null else ti.next_retry_at end,
      start_date = case when w.state = 'queued' then null else ti.start_date end,
      end_date = case when w.state in ('upstream_failed', 'skipped') then now() end,
      duration_ms = case when w.state = 'queued' then null else ti.duration_ms end,
      hostname = case when w.state = 'queued' then null else ti.hostname end,
      pid = case when w.state = 'queued' then null else ti.pid end,
      heartbeat_at = case when w.state = 'queued' then null else ti.heartbeat_at end,
      output = case when w.state = 'queued' then null else ti.output end,
      error = case when w.state = 'queued' then null else ti.error end,
      updated_at = now()
    from writes w
    where ti.dag_run_id = w.dag_run_id and ti.task_id = w.task_id and ti.state = w.expected
    returning ti.dag_id, ti.run_id, ti.dag_run_id, ti.task_id, ti.try_number, ti.pool, ti.priority_weight, ti.state,
              (select r.queue_prefix from dag_run r where r.id = ti.dag_run_id) as queue_prefix
  `);
  const queued = result.rows
    .filter((row) => row.state === 'queued')
    .map(queuedTaskFromRow);
  return { queued, written: new Set(result.rows.map(settledKey)) };
}

/** The key of a task instance in the set {@link settleAndQueue} returns as written. */
export function settledKey(t: { dag_run_id: number; task_id: string }): string {
  return `${t.dag_run_id}\u0000${t.task_id}`;
}
