import { createHash } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { Database, Queryable } from '../db/client.ts';
import * as schema from '../db/schema/index.ts';
import { inTransaction } from '../db/transaction.ts';
import { appendLogLines, type LogLine } from '../db/queries/task-logs.ts';
import type { QueuedTask } from '../executor/task-job.ts';
import type { Dag } from '../sdk/dag.ts';
import type { JsonObject, JsonValue } from '../sdk/json.ts';
import { TASK_STATES, isFinishedTaskState, type DagRunState, type TaskState } from '../sdk/states.ts';
import { finishedRunState, settleTasks } from './run-state.ts';

/**
 * Every state change of task instances and runs, as compare-and-set statements run inside a
 * transaction that holds the `dag` row locks of the DAGs involved (see {@link lockDags}), so
 * workers, schedulers and the UI never interleave decisions about the same DAG.
 */

/** Looks up DAG definitions by id (a DagBag). */
export interface DagLookup {
  get(dagId: string): Dag | undefined;
}

/** Locks the `dag` rows in id order (no deadlocks); returns the ids it locked. */
export async function lockDags(tx: Queryable, dagIds: readonly string[], options: { skipLocked?: boolean } = {}): Promise<string[]> {
  if (dagIds.length === 0) return [];
  const ids = [...new Set(dagIds)].sort();
  const result = await tx.execute<{ dag_id: string }>(
    options.skipLocked
      ? sql`select dag_id from dag where dag_id = any(${sql.param(ids)}::text[]) order by dag_id for update skip locked`
      : sql`select dag_id from dag where dag_id = any(${sql.param(ids)}::text[]) order by dag_id for update`,
  );
  return result.rows.map((row) => row.dag_id);
}

interface PreparingSession {
  prepareQuery(query: { sql: string; params: unknown[] }, fields: undefined, name: string, arrayMode: boolean): { execute(): Promise<unknown> };
}
const statementNames = new Map<string, string>();
/** Handles opened by {@link inLockedTransaction}, whose planner settings make cached plans safe. */
const pinnedSessions = new WeakSet<object>();

/**
 * Inside {@link inLockedTransaction}, runs `query` as a named prepared statement with a generic
 * plan: PostgreSQL parses and plans it once per connection, not on every call (planning these
 * statements costs as much as running them). The name is a hash of the statement's text, so
 * every variant gets its own. Anywhere else it is a plain `execute` (planned for the tables as
 * they are now): a cached plan made while a table was small would scan it whole once it is big,
 * and nothing replans it where autovacuum never runs ANALYZE.
 */
export async function executeNamed<T extends Record<string, unknown>>(tx: Queryable, query: SQL): Promise<{ rows: T[] }> {
  const handle = tx as unknown as { session?: Partial<PreparingSession>; dialect?: { sqlToQuery(query: SQL): { sql: string; params: unknown[] } } };
  const session = handle.session;
  if (!pinnedSessions.has(tx) || !session?.prepareQuery || !handle.dialect) return (await tx.execute<T>(query)) as unknown as { rows: T[] };
  const compiled = handle.dialect.sqlToQuery(query);
  let name = statementNames.get(compiled.sql);
  if (!name) {
    name = `fw_${createHash('sha1').update(compiled.sql).digest('hex').slice(0, 20)}`;
    statementNames.set(compiled.sql, name);
  }
  return (await session.prepareQuery(compiled, undefined, name, false).execute()) as { rows: T[] };
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure
const sessions = new WeakMap<pg.PoolClient, Database>();

/**
 * Runs `work` in a transaction that holds the `dag` row locks of `dagIds`, taken first and in id
 * order exactly as {@link lockDags} takes them; `begin` and the lock travel to PostgreSQL as one
 * simple-protocol round trip (the ids inlined as escaped literals) instead of two. Retries a few
 * times when PostgreSQL aborts the transaction for a deadlock, as `inTransaction` does.
 */
export async function inLockedTransaction<T>(db: Database, dagIds: readonly string[], work: (tx: Queryable) => Promise<T>, attempts = 5): Promise<T> {
  const pool = (db as Database & { $client?: unknown }).$client;
  if (!(pool instanceof pg.Pool)) {
    return inTransaction(db, async (tx) => {
      await lockDags(tx, dagIds);
      return work(tx);
    }, attempts);
  }
  const ids = [...new Set(dagIds)].sort();
  // Every statement of this transaction touches a few rows by key. Its prepared statements use
  // generic plans (no planning per call), and the planner may use neither sequential scans nor
  // hash or merge joins, so a plan cached while the tables were small stays an index plan.
  const settings = ['plan_cache_mode = force_generic_plan', 'enable_seqscan = off', 'enable_hashjoin = off', 'enable_mergejoin = off'];
  const begin = [
    'begin',
    ...settings.map((setting) => `set local ${setting}`),
    ...(ids.length === 0 ? [] : [`select dag_id from dag where dag_id in (${ids.map((id) => pg.escapeLiteral(id)).join(', ')}) order by dag_id for update`]),
  ].join('; ');
  for (let attempt = 1; ; attempt += 1) {
    const client = await pool.connect();
    let session = sessions.get(client);
    if (!session) {
      session = drizzle(client, { schema });
      sessions.set(client, session);
      pinnedSessions.add(session);
    }
    let broken: Error | undefined;
    try {
      await client.query(begin);
      const result = await work(session);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      const code = (error as { code?: string; cause?: { code?: string } }).code ?? (error as { cause?: { code?: string } }).cause?.code;
      if (attempt >= attempts || !code || !RETRYABLE.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 10));
    } finally {
      // A client whose rollback failed is in an unknown state: the pool drops it.
      client.release(broken);
    }
  }
}

/** The outcome of one finished try, as reported by a worker (or decided by the scheduler for a zombie). */
export interface TryOutcome {
  dagRunId: number;
  dagId: string;
  taskId: string;
  tryNumber: number;
  outcome: 'success' | 'failed';
  endDate: Date;
  output: JsonValue | null;
  error: string | null;
  /** Delay before the next try, used only when tries remain. */
  retryDelayMs: number;
  /** The try did not fail on its own (its worker shut down): it gets its try back. */
  handedBack?: boolean;
}

export interface FinishedTry {
  dagRunId: number;
  taskId: string;
  tryNumber: number;
  state: TaskState;
}

/**
 * Records finished tries: `running` → success | failed | up_for_retry, for the given try only
 * (a stale or duplicate report changes nothing), and archives each try in `task_try`. The
 * tries' log lines, if given, are appended by the same statement.
 */
export async function finishTries(tx: Queryable, outcomes: readonly TryOutcome[], logs: readonly LogLine[] = []): Promise<FinishedTry[]> {
  if (outcomes.length === 0) {
    await appendLogLines(tx, logs);
    return [];
  }
  const payload = JSON.stringify(
    outcomes.map((o) => ({
      dag_run_id: o.dagRunId,
      task_id: o.taskId,
      try_number: o.tryNumber,
      outcome: o.outcome,
      end_date: o.endDate.toISOString(),
      output: o.outcome === 'success' ? o.output : null,
      error: o.error,
      retry_delay_ms: o.retryDelayMs,
      extra_try: o.handedBack ? 1 : 0,
    })),
  );
  // The same rows as appendLogLines writes.
  const logsPayload = JSON.stringify(
    logs.map((l) => ({ dag_run_id: l.dagRunId, task_id: l.taskId, try_number: l.tryNumber, logged_at: l.loggedAt.toISOString(), level: l.level, message: l.message })),
  );
  // Planned on every call, never cached: a plan made while the table was small would walk all of
  // it once it is big. The limit (the payload's length) tells the planner how many rows the JSON
  // holds (it assumes 100), so it looks them up by key rather than scanning the table.
  const result = await tx.execute<{ dag_run_id: number; task_id: string; try_number: number; state: TaskState }>(sql`
    with input as (
      select * from json_to_recordset(${payload}::json) as v(
        dag_run_id bigint, task_id text, try_number int, outcome text, end_date timestamptz,
        output jsonb, error text, retry_delay_ms bigint, extra_try int)
      limit ${outcomes.length}
    ), updated as (
      update task_instance ti set
        state = case when v.outcome = 'failed' and ti.try_number < ti.max_tries + v.extra_try then 'up_for_retry' else v.outcome end,
        max_tries = ti.max_tries + v.extra_try,
        end_date = v.end_date,
        duration_ms = extract(epoch from (v.end_date - coalesce(ti.start_date, v.end_date))) * 1000,
        output = v.output,
        error = v.error,
        next_retry_at = case when v.outcome = 'failed' and ti.try_number < ti.max_tries + v.extra_try
          then now() + v.retry_delay_ms * interval '1 millisecond' end,
        heartbeat_at = null,
        updated_at = now()
      from input v
      -- coalesce(state) (never null) is the same test but matches no index on state: rows are
      -- found by key, never by walking every running task instance (and, without vacuum, every
      -- old version of one) that the partial index on state holds.
      where ti.dag_run_id = v.dag_run_id and ti.task_id = v.task_id and ti.try_number = v.try_number and coalesce(ti.state, '') = 'running'
      returning ti.*
    ), archived as (
      insert into task_try (dag_run_id, task_id, try_number, state, start_date, end_date, duration_ms, hostname, pid, output, error)
      select dag_run_id, task_id, try_number, case when state = 'up_for_retry' then 'failed' else state end,
             start_date, end_date, duration_ms, hostname, pid, output, error
      from updated
      on conflict (dag_run_id, task_id, try_number) do update set
        state = excluded.state, end_date = excluded.end_date, duration_ms = excluded.duration_ms,
        output = excluded.output, error = excluded.error
    ), logged as (
      insert into task_log (dag_run_id, task_id, try_number, logged_at, level, message)
      select dag_run_id, task_id, try_number, logged_at, level, message
      from json_to_recordset(${logsPayload}::json) as l(dag_run_id bigint, task_id text, try_number int, logged_at timestamptz, level text, message text)
    )
    select dag_run_id, task_id, try_number, state from updated
  `);
  return result.rows.map((row) => ({ dagRunId: row.dag_run_id, taskId: row.task_id, tryNumber: row.try_number, state: row.state }));
}

/** Creates the task instances of a run that lack one (all of them for a new run). */
export async function createTaskInstances(tx: Queryable, dag: Dag, run: { id: number; runId: string }): Promise<void> {
  const payload = JSON.stringify(
    [...dag.tasks.values()].map((t) => ({ task_id: t.taskId, max_tries: t.retries + 1, pool: t.pool, priority_weight: t.priorityWeight })),
  );
  await tx.execute(sql`
    insert into task_instance (dag_run_id, task_id, dag_id, run_id, state, try_number, max_tries, pool, priority_weight)
    select ${run.id}, v.task_id, ${dag.dagId}, ${run.runId}, 'none', 0, v.max_tries, v.pool, v.priority_weight
    from json_to_recordset(${payload}::json) as v(task_id text, max_tries int, pool text, priority_weight int)
    on conflict do nothing
  `);
}

/** Limits which runs' tasks may be queued (a `dags test` process queues only its own run). */
export interface QueueScope {
  onlyDagRunIds?: readonly number[];
}

export interface AdvanceResult {
  /** Task instances moved to `queued`: send them to their pools. */
  queued: QueuedTask[];
  /** Runs that reached a final state. */
  finishedRuns: { dagRunId: number; dagId: string; runId: string; state: DagRunState }[];
}

const UNFINISHED_STATES = TASK_STATES.filter((state) => !isFinishedTaskState(state));

/** A task whose try just finished: only its downstream tasks can have become decidable. */
export interface FinishedTask {
  dagRunId: number;
  dagId: string;
  taskId: string;
  /** Its state as this transaction left it (as finishTries returns it), when known. */
  state?: TaskState;
}

interface LoadedRun {
  dagId: string;
  runId: string;
  states: Map<string, TaskState>;
}

/**
 * Moves the given running runs forward: settles tasks whose trigger rules can be decided,
 * queues ready tasks up to each DAG's `maxActiveTasks`, and finishes runs whose tasks are all
 * done. Call with the runs' DAGs locked.
 *
 * With `finished` (the tries that just finished, as a worker knows them), a run named there is
 * advanced from their neighbourhood only: their downstream tasks and those tasks' upstream
 * states are read, not every task instance of the run. A run falls back to the full pass when
 * the step cascades (a task settles to `upstream_failed` or `skipped`), when a task instance is
 * missing, or when no unfinished task is left (its final state is decided from every leaf).
 */
export async function advanceRuns(
  tx: Queryable,
  dags: DagLookup,
  dagRunIds: readonly number[],
  scope: QueueScope = {},
  finished?: readonly FinishedTask[],
): Promise<AdvanceResult> {
  const finishedRuns: AdvanceResult['finishedRuns'] = [];
  if (dagRunIds.length === 0) return { queued: [], finishedRuns };
  const ids = [...new Set(dagRunIds)];
  const taskChanges: { dag_run_id: number; task_id: string; state: TaskState }[] = [];
  const dagIds = new Set<string>();

  let fullIds = ids;
  let unverified: SettledTask[] = [];
  if (finished && finished.length > 0) {
    const incremental = await advanceFromFinished(tx, dags, ids, finished);
    fullIds = incremental.fullIds;
    unverified = incremental.unverified;
    taskChanges.push(...incremental.changes, ...unverified);
    for (const dagId of incremental.dagIds) dagIds.add(dagId);
  }

  const runs = await loadRunStates(tx, fullIds);
  for (const [dagRunId, run] of runs) {
    const dag = dags.get(run.dagId);
    if (!dag) continue;
    dagIds.add(run.dagId);
    if ([...dag.tasks.keys()].some((taskId) => !run.states.has(taskId))) {
      await createTaskInstances(tx, dag, { id: dagRunId, runId: run.runId });
      for (const taskId of dag.tasks.keys()) if (!run.states.has(taskId)) run.states.set(taskId, 'none');
    }
    for (const [taskId, state] of settleTasks(dag, run.states)) {
      run.states.set(taskId, state);
      taskChanges.push({ dag_run_id: dagRunId, task_id: taskId, state });
    }
    const final = finishedRunState(dag, run.states);
    if (final) finishedRuns.push({ dagRunId, dagId: run.dagId, runId: run.runId, state: final });
  }

  // The settled states are written by the statement that queues: one round trip, not two. It
  // writes them for running runs only, so it comes before the finished runs are closed (they
  // have nothing left to queue).
  const { queued, written } = await settleAndQueue(tx, [...dagIds], scope, taskChanges);
  if (finishedRuns.length > 0) {
    await tx.execute(sql`
      update dag_run r set state = v.state, end_date = now()
      from json_to_recordset(${JSON.stringify(finishedRuns.map((f) => ({ id: f.dagRunId, state: f.state })))}::json) as v(id bigint, state text)
      where r.id = v.id and r.state = 'running'
    `);
  }
  // A task settled without reading it that was not `none` after all: its run gets the full pass.
  const recheck = [...new Set(unverified.filter((t) => !written.has(settledKey(t))).map((t) => t.dag_run_id))];
  if (recheck.length > 0) {
    const again = await advanceRuns(tx, dags, recheck, scope);
    return { queued: [...queued, ...again.queued], finishedRuns: [...finishedRuns, ...again.finishedRuns] };
  }
  return { queued, finishedRuns };
}

function settledKey(t: { dag_run_id: number; task_id: string }): string {
  return `${t.dag_run_id}\u0000${t.task_id}`;
}

/** Every task instance state of the given running runs (one JSON object per run, not one row per task). */
async function loadRunStates(tx: Queryable, dagRunIds: readonly number[]): Promise<Map<number, LoadedRun>> {
  const runs = new Map<number, LoadedRun>();
  if (dagRunIds.length === 0) return runs;
  const rows = await executeNamed<{ dag_run_id: number; dag_id: string; run_id: string; states: Record<string, TaskState> | null }>(tx, sql`
    select r.id as dag_run_id, r.dag_id, r.run_id, s.states
    from dag_run r
    left join lateral (select json_object_agg(ti.task_id, ti.state) as states from task_instance ti where ti.dag_run_id = r.id) s on true
    where r.id = any(${sql.param([...dagRunIds])}::bigint[]) and r.state = 'running'
  `);
  for (const row of rows.rows) {
    runs.set(row.dag_run_id, { dagId: row.dag_id, runId: row.run_id, states: new Map(Object.entries(row.states ?? {})) });
  }
  return runs;
}

/**
 * The event-driven step: settles the downstream tasks of just-finished tries from their upstream
 * states alone. Returns the changes, the DAGs to queue for, and the runs that need the full pass.
 */
async function advanceFromFinished(
  tx: Queryable,
  dags: DagLookup,
  ids: readonly number[],
  finished: readonly FinishedTask[],
): Promise<{ changes: SettledTask[]; unverified: SettledTask[]; dagIds: Set<string>; fullIds: number[] }> {
  const requested = new Set(ids);
  // Per run: the downstream tasks to evaluate, and every task whose state they need.
  const plans = new Map<number, { dag: Dag; targets: Set<string>; wanted: Set<string> }>();
  for (const f of finished) {
    if (!requested.has(f.dagRunId)) continue;
    const dag = dags.get(f.dagId);
    if (!dag) continue;
    let plan = plans.get(f.dagRunId);
    if (!plan) {
      plan = { dag, targets: new Set(), wanted: new Set() };
      plans.set(f.dagRunId, plan);
    }
    for (const downstreamId of dag.downstreamOf(f.taskId)) {
      plan.targets.add(downstreamId);
      plan.wanted.add(downstreamId);
      for (const upstreamId of dag.task(downstreamId).upstreamIds) plan.wanted.add(upstreamId);
    }
  }
  const fullIds = ids.filter((id) => !plans.has(id));
  const changes: SettledTask[] = [];
  const unverified: SettledTask[] = [];
  const dagIds = new Set<string>();

  // A run whose downstream tasks all have every upstream among the tries finished in this
  // transaction is decided without reading anything: those upstreams were all running until now,
  // so no trigger rule but `always` (settled when the run starts) could have decided such a task,
  // and it is still `none` (unless an upstream was cleared without it: the caller checks that
  // each was written); the run is not done either, that task is not. A chain takes this path.
  for (const [dagRunId, plan] of plans) {
    const known = new Map<string, TaskState>();
    for (const f of finished) if (f.dagRunId === dagRunId && f.state) known.set(f.taskId, f.state);
    const local =
      plan.targets.size > 0 &&
      [...plan.targets].every((taskId) => {
        const task = plan.dag.task(taskId);
        return task.triggerRule !== 'always' && task.upstreamIds.every((upstreamId) => known.has(upstreamId));
      });
    if (!local) continue;
    const states = new Map(known);
    for (const taskId of plan.targets) states.set(taskId, 'none');
    const settled = settleTasks(plan.dag, states);
    plans.delete(dagRunId);
    if ([...settled.values()].some((state) => state !== 'scheduled')) {
      fullIds.push(dagRunId); // a cascade: the full pass walks the run
      continue;
    }
    for (const [taskId, state] of settled) unverified.push({ dag_run_id: dagRunId, task_id: taskId, state });
    dagIds.add(plan.dag.dagId);
  }
  if (plans.size === 0) return { changes, unverified, dagIds, fullIds };

  const wanted = [...plans].flatMap(([dagRunId, plan]) => [...plan.wanted].map((taskId) => ({ dag_run_id: dagRunId, task_id: taskId })));
  const rows = await executeNamed<{ dag_run_id: number; dag_id: string; has_unfinished: boolean; states: Record<string, TaskState> | null }>(tx, sql`
    select r.id as dag_run_id, r.dag_id, s.states,
           exists (
             select 1 from task_instance ti
             where ti.dag_id = r.dag_id and ti.dag_run_id = r.id and ti.state = any(${sql.param(UNFINISHED_STATES)}::text[])
           ) as has_unfinished
    from dag_run r
    left join lateral (
      -- One primary-key lookup per wanted task (offset 0 keeps the subquery apart from the join).
      select json_object_agg(ti.task_id, ti.state) as states
      from json_to_recordset(${JSON.stringify(wanted)}::json) as v(dag_run_id bigint, task_id text)
      cross join lateral (
        select t.task_id, t.state from task_instance t where t.dag_run_id = v.dag_run_id and t.task_id = v.task_id offset 0
      ) ti
      where v.dag_run_id = r.id
    ) s on true
    where r.id = any(${sql.param([...plans.keys()])}::bigint[]) and r.state = 'running'
  `);
  for (const row of rows.rows) {
    const plan = plans.get(row.dag_run_id)!;
    const loaded = row.states ?? {};
    if ([...plan.wanted].some((taskId) => loaded[taskId] === undefined) || !row.has_unfinished) {
      // A task instance is missing (the DAG grew), or the run may be done: the full pass decides.
      fullIds.push(row.dag_run_id);
      continue;
    }
    // Tasks read only as inputs are never settled here: a `none` one reads as not done.
    const states = new Map<string, TaskState>();
    for (const [taskId, state] of Object.entries(loaded)) {
      states.set(taskId, state === 'none' && !plan.targets.has(taskId) ? 'scheduled' : state);
    }
    const settled = settleTasks(plan.dag, states);
    if ([...settled.values()].some((state) => state !== 'scheduled')) {
      // upstream_failed / skipped cascade further downstream: the full pass walks the whole run.
      fullIds.push(row.dag_run_id);
      continue;
    }
    for (const [taskId, state] of settled) changes.push({ dag_run_id: row.dag_run_id, task_id: taskId, state });
    dagIds.add(row.dag_id);
  }
  return { changes, unverified, dagIds, fullIds };
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
 * {@link settleTasks}); the same statement writes them (compare-and-set from `none`), and a
 * newly `scheduled` one competes for slots as if it had been written first: it may go straight
 * to `queued`. Every row is written once, with exactly the columns the two steps would write.
 */
export async function queueReadyTasks(
  tx: Queryable,
  dagIds: readonly string[],
  scope: QueueScope = {},
  settled: readonly SettledTask[] = [],
): Promise<QueuedTask[]> {
  return (await settleAndQueue(tx, dagIds, scope, settled)).queued;
}

/** {@link queueReadyTasks}, also returning which task instances it wrote (`settledKey`). */
async function settleAndQueue(
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

/** The `task_instance` columns (plus its run's `queue_prefix`) a job is made from. */
export type QueuedTaskRow = {
  dag_id: string;
  run_id: string;
  dag_run_id: number;
  task_id: string;
  try_number: number;
  pool: string;
  priority_weight: number;
  queue_prefix: string | null;
};

/** A `task_instance` row (plus its run's `queue_prefix`) as the job to send. */
export function queuedTaskFromRow(row: QueuedTaskRow): QueuedTask {
  return {
    dagId: row.dag_id,
    runId: row.run_id,
    dagRunId: row.dag_run_id,
    taskId: row.task_id,
    tryNumber: row.try_number,
    pool: row.pool,
    priorityWeight: row.priority_weight,
    queuePrefix: row.queue_prefix,
  };
}

/** What a worker needs to start a try, read back by {@link startTries}. */
export interface StartedTry {
  dagRunId: number;
  taskId: string;
  tryNumber: number;
  maxTries: number;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  conf: JsonObject;
}

/** `queued` → `running` for exactly these tries; a try no longer queued (stale job) is left out. */
export async function startTries(
  tx: Queryable,
  tries: readonly { dagRunId: number; taskId: string; tryNumber: number; startDate: Date; hostname: string; pid: number }[],
): Promise<StartedTry[]> {
  if (tries.length === 0) return [];
  const payload = JSON.stringify(
    tries.map((t) => ({
      dag_run_id: t.dagRunId,
      task_id: t.taskId,
      try_number: t.tryNumber,
      start_date: t.startDate.toISOString(),
      hostname: t.hostname,
      pid: t.pid,
    })),
  );
  const result = await tx.execute<{
    dag_run_id: number;
    task_id: string;
    try_number: number;
    max_tries: number;
    logical_date: Date;
    data_interval_start: Date;
    data_interval_end: Date;
    conf: JsonObject;
  }>(sql`
    with started as (
      update task_instance ti set
        state = 'running', start_date = v.start_date, hostname = v.hostname, pid = v.pid,
        heartbeat_at = now(), updated_at = now()
      from (
        -- The limit (the payload's length) tells the planner the row count, as in finishTries.
        select * from json_to_recordset(${payload}::json) as v(dag_run_id bigint, task_id text, try_number int, start_date timestamptz, hostname text, pid int)
        limit ${tries.length}
      ) v
      where ti.dag_run_id = v.dag_run_id and ti.task_id = v.task_id and ti.try_number = v.try_number
        and coalesce(ti.state, '') = 'queued' -- found by key, as in finishTries
      returning ti.dag_run_id, ti.task_id, ti.try_number, ti.max_tries
    )
    -- The run's fields are joined after the update, so its row lookups are by the full key.
    select s.dag_run_id, s.task_id, s.try_number, s.max_tries, r.logical_date, r.data_interval_start, r.data_interval_end, r.conf
    from started s join dag_run r on r.id = s.dag_run_id
  `);
  return result.rows.map((row) => ({
    dagRunId: row.dag_run_id,
    taskId: row.task_id,
    tryNumber: row.try_number,
    maxTries: row.max_tries,
    logicalDate: new Date(row.logical_date),
    dataIntervalStart: new Date(row.data_interval_start),
    dataIntervalEnd: new Date(row.data_interval_end),
    conf: row.conf,
  }));
}

/**
 * Refreshes the heartbeat of running tries; returns those still `running` with that try number.
 * A try missing from the result was cleared, marked or reaped meanwhile: its worker stops it.
 */
export async function heartbeatTries(
  tx: Queryable,
  tries: readonly { dagRunId: number; taskId: string; tryNumber: number }[],
): Promise<{ dagRunId: number; taskId: string; tryNumber: number }[]> {
  if (tries.length === 0) return [];
  const payload = JSON.stringify(tries.map((t) => ({ dag_run_id: t.dagRunId, task_id: t.taskId, try_number: t.tryNumber })));
  const result = await tx.execute<{ dag_run_id: number; task_id: string; try_number: number }>(sql`
    update task_instance ti set heartbeat_at = now()
    from json_to_recordset(${payload}::json) as v(dag_run_id bigint, task_id text, try_number int)
    where ti.dag_run_id = v.dag_run_id and ti.task_id = v.task_id and ti.try_number = v.try_number and ti.state = 'running'
    returning ti.dag_run_id, ti.task_id, ti.try_number
  `);
  return result.rows.map((row) => ({ dagRunId: row.dag_run_id, taskId: row.task_id, tryNumber: row.try_number }));
}

/** Outputs of the given upstream tasks of a run that succeeded (XCom `return_value`). */
export async function readOutputs(tx: Queryable, dagRunId: number, taskIds: readonly string[]): Promise<Map<string, { state: TaskState; output: JsonValue | null }>> {
  if (taskIds.length === 0) return new Map();
  const result = await tx.execute<{ task_id: string; state: TaskState; output: JsonValue | null }>(sql`
    select task_id, state, output from task_instance where dag_run_id = ${dagRunId} and task_id = any(${sql.param([...taskIds])}::text[])
  `);
  return new Map(result.rows.map((row) => [row.task_id, { state: row.state, output: row.output }]));
}

/**
 * Clears task instances (Airflow's clear): they go back to `none` with their full retries
 * again, and a finished run goes back to `queued` so the scheduler runs them. A running try
 * that is cleared is stopped by its worker at the next heartbeat. Call with the DAG locked.
 */
export async function clearTaskInstances(
  tx: Queryable,
  dag: Dag,
  dagRunId: number,
  taskIds: readonly string[],
): Promise<string[]> {
  if (taskIds.length === 0) return [];
  const payload = JSON.stringify(taskIds.map((taskId) => ({ task_id: taskId, retries: dag.tasks.get(taskId)?.retries ?? 0 })));
  const cleared = await tx.execute<{ task_id: string }>(sql`
    update task_instance ti set
      state = 'none', max_tries = ti.try_number + v.retries + 1, next_retry_at = null, queued_at = null,
      start_date = null, end_date = null, duration_ms = null, heartbeat_at = null, output = null, error = null,
      updated_at = now()
    from json_to_recordset(${payload}::json) as v(task_id text, retries int)
    where ti.dag_run_id = ${dagRunId} and ti.task_id = v.task_id
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
