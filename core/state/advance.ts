import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { executeNamed } from '../db/named-statements.ts';
import type { Dag } from '../sdk/dag.ts';
import { TASK_STATES, isFinishedTaskState, type DagRunState, type TaskState } from '../sdk/states.ts';
import type { QueuedTask } from './queued-task.ts';
import { finishedRunState, settleTasks } from './run-state.ts';
import { settleAndQueue, settledKey, type QueueScope, type SettledTask } from './settle-and-queue.ts';

/**
 * Moving running runs forward, under their DAGs' locks: the full pass over a run's task
 * instances, and the event-driven step from just-finished tries that reads only their
 * neighbourhood. Both decide trigger rules with {@link settleTasks} and write through
 * {@link settleAndQueue}.
 */

/** Looks up DAG definitions by id (a DagBag). */
export interface DagLookup {
  get(dagId: string): Dag | undefined;
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