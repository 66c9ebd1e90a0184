import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database, Queryable } from '../db/client.ts';
import type { AuditHook } from '../db/queries/audit-log.ts';
import { getDagRun } from '../db/queries/dag-runs.ts';
import { inTransaction, lockDags } from '../db/transaction.ts';
import { FlywheelError } from '../errors.ts';
import type { QueueExecutor } from '../executor/executor.ts';
import type { DagBag } from '../loader/dag-bag.ts';
import type { Dag } from '../sdk/dag.ts';
import type { JsonObject } from '../sdk/json.ts';
import { isFinishedTaskState, type RunType, type TaskState } from '../sdk/states.ts';
import { advanceRuns } from '../state/advance.ts';
import { startQueuedRuns } from '../state/run-start.ts';
import { clearTaskInstances, markTaskInstance, refreshFinishedRunState } from '../state/task-actions.ts';
import { dataIntervalFor, insertDagRun, runIdFor } from './dag-runs.ts';
import { upsertDags } from './dag-sync.ts';

/** What operator actions (CLI, web) need: the database, the DAG definitions and the queues. */
export interface ActionContext {
  db: Database;
  dags: DagBag;
  executor: QueueExecutor;
}

export interface TriggerOptions {
  conf?: JsonObject;
  audit?: AuditHook;
  logicalDate?: Date;
  runType?: RunType;
  runId?: string;
  triggeredBy?: string;
  /** Start the run now when the DAG's limits allow, instead of at the scheduler's next pass. @defaultValue true */
  startNow?: boolean;
}

/** Runs the DAG's `validateConf` on a manual run's conf; a throw is an `invalid` FlywheelError with its message as the reason. */
export async function checkConf(dag: Dag, conf: JsonObject): Promise<void> {
  try {
    // A copy, so the run keeps exactly the conf it was given; awaited, in case the check is async.
    await (dag.validateConf!(structuredClone(conf)) as unknown);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new FlywheelError('invalid', `conf rejected by DAG "${dag.dagId}": ${reason || 'invalid conf'}`);
  }
}

/**
 * Creates a run (manual by default) and starts it right away when `maxActiveRuns` allows. A
 * manual run's conf must pass the DAG's `validateConf` (else an `invalid` FlywheelError, and no run).
 * Triggering again with the same explicit `logicalDate` is a `conflict` FlywheelError.
 */
export async function triggerDagRun(context: ActionContext, dagId: string, options: TriggerOptions = {}) {
  const dag = await context.dags.require(dagId);
  const runType = options.runType ?? 'manual';
  const logicalDate = options.logicalDate ?? new Date();
  if (runType === 'manual' && dag.validateConf) await checkConf(dag, options.conf ?? {});
  const { run, queued } = await inTransaction(context.db, async (tx) => {
    await upsertDags(tx, [dag]);
    const newRun = {
      dagId,
      runType,
      logicalDate,
      dataInterval: dataIntervalFor(dag, logicalDate, runType),
      conf: options.conf ?? {},
      ...(options.runId ? { runId: options.runId } : {}),
      triggeredBy: options.triggeredBy ?? 'cli',
    };
    let inserted = await insertDagRun(tx, newRun);
    if (!inserted && !options.runId && !options.logicalDate && runType === 'manual') {
      // Two "now" triggers in the same millisecond: the second gets a distinguishing suffix. A
      // logical date given explicitly is not made up by us: a second run for it is a conflict.
      inserted = await insertDagRun(tx, { ...newRun, runId: `${runIdFor(runType, logicalDate)}_${randomUUID().slice(0, 8)}` });
    }
    if (!inserted) {
      const existing = options.runId ?? runIdFor(runType, logicalDate);
      throw new FlywheelError(
        'conflict',
        options.runId || !options.logicalDate
          ? `DAG "${dagId}" already has a run ${existing}`
          : `DAG "${dagId}" already has a run for logical date ${logicalDate.toISOString()} (${existing})`,
      );
    }
    await options.audit?.(tx, { runId: inserted.runId, runType, logicalDate: logicalDate.toISOString() });
    const started = options.startNow === false ? [] : await startQueuedRuns(tx, context.dags, [dagId]);
    return { run: inserted, queued: started };
  });
  await context.executor.enqueue(queued);
  const stored = await getDagRun(context.db, dagId, run.runId);
  return { dagRunId: run.id, runId: run.runId, state: stored?.state ?? 'queued', logicalDate };
}

/** Creates backfill runs for every interval whose logical date lies in [from, to]. */
export async function backfillDag(context: ActionContext, dagId: string, from: Date, to: Date, options: { conf?: JsonObject; triggeredBy?: string } = {}) {
  const dag = await context.dags.require(dagId);
  if (!dag.timetable) throw new FlywheelError('invalid', `DAG "${dagId}" has no schedule to backfill`);
  if (from.getTime() > to.getTime()) throw new FlywheelError('invalid', '--from is after --to');
  const intervals = dag.timetable.intervalsBetween(from, to);
  const { created, queued } = await inTransaction(context.db, async (tx) => {
    await upsertDags(tx, [dag]);
    const created: { runId: string; logicalDate: Date; created: boolean }[] = [];
    for (const interval of intervals) {
      const inserted = await insertDagRun(tx, {
        dagId,
        runType: 'backfill',
        logicalDate: interval.start,
        dataInterval: interval,
        conf: options.conf ?? {},
        triggeredBy: options.triggeredBy ?? 'cli',
      });
      created.push({ runId: inserted?.runId ?? runIdFor('backfill', interval.start), logicalDate: interval.start, created: inserted !== null });
    }
    return { created, queued: await startQueuedRuns(tx, context.dags, [dagId]) };
  });
  await context.executor.enqueue(queued);
  return created;
}

/**
 * One task instance an operator action changes — or, in a dry run, would change: its state and
 * try number now, and the state the action gives it (`none` for a clear: the scheduler then
 * queues it again). The dry run and the action compute this list with the same code, under the
 * same lock, so a dry run lists exactly what the action would change.
 */
export interface TaskInstanceChange {
  dagId: string;
  runId: string;
  taskId: string;
  state: TaskState;
  tryNumber: number;
  newState: TaskState;
}

/** A task instance as the caller last saw it (in a dry run's list): the compare-and-set of a confirmed action. */
export interface ExpectedInstance {
  taskId: string;
  tryNumber: number;
  state?: TaskState | undefined;
}

/**
 * Dry run and compare-and-set, shared by clear and mark. With `dryRun` nothing is written (and
 * nothing audited): the outcome lists what would change. `expectedTryNumber` / `expectedState`
 * are the target task instance as the caller saw it; `expected` is the whole list the caller
 * confirmed (a dry run's `taskInstances`): when the instances differ now (another try started,
 * a state changed, the scope covers other instances) the action is a `conflict` and changes
 * nothing.
 */
export interface ActionGuard {
  dryRun?: boolean | undefined;
  expectedTryNumber?: number | undefined;
  expectedState?: TaskState | undefined;
  expected?: readonly ExpectedInstance[] | undefined;
}

/** Which task instances a clear covers besides the target (as Airflow's clear dialog). */
export interface ClearScope {
  /** Every task upstream of the target, transitively. */
  upstream?: boolean | undefined;
  /** Every task downstream of the target, transitively. */
  downstream?: boolean | undefined;
  /** Only those `failed` or `upstream_failed`. */
  onlyFailed?: boolean | undefined;
}

/** What a clear did (or, in a dry run, would do). */
export interface ClearOutcome {
  dryRun: boolean;
  /** Task ids cleared, in the DAG's order. */
  cleared: string[];
  taskInstances: TaskInstanceChange[];
}

type InstanceRow = {
  task_id: string;
  state: TaskState;
  try_number: number;
};

/** The target and, as asked, every task upstream / downstream of it; the whole DAG for a run-wide action. */
function scopeOf(dag: Dag, taskId: string | null, scope: { upstream?: boolean | undefined; downstream?: boolean | undefined }): Set<string> {
  if (taskId === null) return new Set(dag.tasks.keys());
  const ids = new Set([taskId]);
  if (scope.downstream) for (const id of dag.allDownstreamOf(taskId)) ids.add(id);
  if (scope.upstream) {
    const stack = [...(dag.tasks.get(taskId)?.upstreamIds ?? [])];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (ids.has(next)) continue;
      ids.add(next);
      stack.push(...(dag.tasks.get(next)?.upstreamIds ?? []));
    }
  }
  return ids;
}

/** The run's task instances among `taskIds`, in the DAG's (topological) order. Call with the DAG locked. */
async function readInstances(tx: Queryable, dag: Dag, dagRunId: number, taskIds: ReadonlySet<string>): Promise<InstanceRow[]> {
  const rows = await tx.execute<InstanceRow>(
    sql`select task_id, state, try_number from task_instance where dag_run_id = ${dagRunId} and task_id = any(${sql.param([...taskIds])}::text[])`,
  );
  const order = new Map(dag.topologicalOrder.map((id, i) => [id, i]));
  return rows.rows.filter((row) => dag.tasks.has(row.task_id)).sort((a, b) => (order.get(a.task_id) ?? 0) - (order.get(b.task_id) ?? 0));
}

/** Throws a `conflict` (nothing has changed yet) when the instances are not as the caller saw them. */
function checkGuard(guard: ActionGuard, target: { taskId: string; row: InstanceRow | undefined } | null, changes: readonly TaskInstanceChange[]): void {
  if (target && (guard.expectedTryNumber !== undefined || guard.expectedState !== undefined)) {
    const { taskId, row } = target;
    const tryDiffers = guard.expectedTryNumber !== undefined && row?.try_number !== guard.expectedTryNumber;
    const stateDiffers = guard.expectedState !== undefined && row?.state !== guard.expectedState;
    if (!row || tryDiffers || stateDiffers) {
      const saw = [guard.expectedState, guard.expectedTryNumber !== undefined ? `try ${guard.expectedTryNumber}` : undefined].filter(Boolean).join(', ');
      const now = row ? `${row.state}, try ${row.try_number}` : 'no instance';
      throw new FlywheelError('conflict', `task "${taskId}" changed meanwhile (now ${now}, expected ${saw}); reload and try again`);
    }
  }
  if (guard.expected) {
    const key = (taskId: string, state: string | undefined, tryNumber: number) => `${taskId}\u0000${state ?? '*'}\u0000${tryNumber}`;
    const now = new Map(changes.map((c) => [c.taskId, c]));
    const differs =
      guard.expected.length !== changes.length ||
      new Set(guard.expected.map((e) => e.taskId)).size !== guard.expected.length ||
      guard.expected.some((e) => {
        const c = now.get(e.taskId);
        return !c || key(c.taskId, e.state === undefined ? undefined : c.state, c.tryNumber) !== key(e.taskId, e.state, e.tryNumber);
      });
    if (differs) {
      const list = changes.map((c) => `${c.taskId} (${c.state}, try ${c.tryNumber})`).join(', ') || 'nothing';
      throw new FlywheelError('conflict', `the task instances changed meanwhile: this would now change ${list}; reload and try again`);
    }
  }
}

/**
 * Clears task instances of a run so they run again (Airflow's clear): the target task and, as
 * `scope` asks, everything upstream and/or downstream of it; with `onlyFailed` only those
 * `failed` or `upstream_failed`. `taskId` null covers every task of the run. Instances already
 * in `none` are left alone (clearing would not change them). With `dryRun` it only says what it
 * would clear; `expected…` make it a compare-and-set (see {@link ActionGuard}).
 */
export async function clearTaskScope(
  context: ActionContext,
  dagId: string,
  runId: string,
  taskId: string | null,
  options: ClearScope & ActionGuard & { audit?: AuditHook | undefined } = {},
): Promise<ClearOutcome> {
  const dag = await context.dags.require(dagId);
  if (taskId !== null && !dag.tasks.has(taskId)) throw new FlywheelError('not_found', `DAG "${dagId}" has no task "${taskId}"`);
  const run = await getDagRun(context.db, dagId, runId);
  if (!run) throw new FlywheelError('not_found', `DAG "${dagId}" has no run "${runId}"`);
  const dryRun = options.dryRun === true;
  const { outcome, queued } = await inTransaction(context.db, async (tx) => {
    // Read under the DAG lock, so no finish slips in between the read and the clear.
    await lockDags(tx, [dagId]);
    const rows = await readInstances(tx, dag, run.id, scopeOf(dag, taskId, options));
    const picked = rows.filter((row) => row.state !== 'none' && (!options.onlyFailed || row.state === 'failed' || row.state === 'upstream_failed'));
    const changes = picked.map((row): TaskInstanceChange => ({ dagId, runId, taskId: row.task_id, state: row.state, tryNumber: row.try_number, newState: 'none' }));
    checkGuard(options, taskId === null ? null : { taskId, row: rows.find((row) => row.task_id === taskId) }, changes);
    const none: Awaited<ReturnType<typeof advanceRuns>>['queued'] = [];
    if (dryRun) return { outcome: { dryRun, cleared: changes.map((c) => c.taskId), taskInstances: changes }, queued: none };
    if (changes.length === 0) {
      // Nothing to clear is still an action someone took: it is audited like any other.
      await options.audit?.(tx, { cleared: [] });
      return { outcome: { dryRun, cleared: [], taskInstances: [] }, queued: none };
    }
    const cleared = await clearTaskInstances(
      tx,
      dag,
      run.id,
      changes.map((c) => c.taskId),
      changes.map((c) => ({ taskId: c.taskId, state: c.state, tryNumber: c.tryNumber })),
    );
    if (cleared.length !== changes.length) throw new FlywheelError('conflict', 'the task instances changed meanwhile; reload and try again');
    await options.audit?.(tx, { cleared: changes.map((c) => c.taskId), tries: Object.fromEntries(changes.map((c) => [c.taskId, c.tryNumber])) });
    // A finished run went back to queued and starts here; a running one is moved on at once.
    const started = await startQueuedRuns(tx, context.dags, [dagId]);
    const advanced = await advanceRuns(tx, context.dags, [run.id]);
    return { outcome: { dryRun, cleared: changes.map((c) => c.taskId), taskInstances: changes }, queued: [...started, ...advanced.queued] };
  });
  await context.executor.enqueue(queued);
  return outcome;
}

/** Clears a task instance (and, if asked, everything downstream of it) so it runs again. */
export async function clearTasks(
  context: ActionContext,
  dagId: string,
  runId: string,
  taskId: string,
  options: { downstream?: boolean; audit?: AuditHook } = {},
): Promise<string[]> {
  return (await clearTaskScope(context, dagId, runId, taskId, options)).cleared;
}

/** Clears every `failed` and `upstream_failed` task instance of a run (Airflow's "clear only failed"). */
export async function clearFailedTasks(context: ActionContext, dagId: string, runId: string, options: { audit?: AuditHook } = {}): Promise<string[]> {
  return (await clearTaskScope(context, dagId, runId, null, { ...options, onlyFailed: true })).cleared;
}

/** What marking a task instance did. */
export interface MarkResult {
  taskId: string;
  previousState: TaskState;
  state: 'success' | 'failed';
  /** The run's state after the change. */
  runState: string;
}

/** What a mark did (or, in a dry run, would do). */
export interface MarkOutcome {
  dryRun: boolean;
  state: 'success' | 'failed';
  /** The run's state after the change (now, in a dry run). */
  runState: string;
  taskInstances: TaskInstanceChange[];
  /** The target task instance as it was (a task mark only). */
  target?: { taskId: string; previousState: TaskState; tryNumber: number };
}

/**
 * Marks task instances `success` or `failed` (Airflow's "mark success / failed"): the target
 * task and, as `scope` asks, everything upstream and/or downstream of it; `taskId` null is the
 * whole run (success: every instance not `success` or `skipped`; failed: every unfinished one).
 * Instances already in that state are left alone; when nothing would change the action is a
 * `conflict` (a dry run says so with an empty list). A running try is ended: its worker's late
 * report is ignored. In a running run the tasks after them are decided at once; in a finished
 * run the run's state is derived again from its tasks. `expected…` make it a compare-and-set.
 */
export async function markTaskScope(
  context: ActionContext,
  dagId: string,
  runId: string,
  taskId: string | null,
  state: 'success' | 'failed',
  options: { upstream?: boolean | undefined; downstream?: boolean | undefined; by?: string | undefined; audit?: AuditHook | undefined } & ActionGuard = {},
): Promise<MarkOutcome> {
  const dag = await context.dags.require(dagId);
  if (taskId !== null && !dag.tasks.has(taskId)) throw new FlywheelError('not_found', `DAG "${dagId}" has no task "${taskId}"`);
  const run = await getDagRun(context.db, dagId, runId);
  if (!run) throw new FlywheelError('not_found', `DAG "${dagId}" has no run "${runId}"`);
  const dryRun = options.dryRun === true;
  const { outcome, queued } = await inTransaction(context.db, async (tx) => {
    await lockDags(tx, [dagId]);
    const rows = await readInstances(tx, dag, run.id, scopeOf(dag, taskId, options));
    const targetRow = taskId === null ? undefined : rows.find((row) => row.task_id === taskId);
    if (taskId !== null && !targetRow) throw new FlywheelError('conflict', `run "${runId}" has no task instance "${taskId}" yet (the run has not started)`);
    const picked = rows.filter((row) =>
      taskId !== null ? row.state !== state : state === 'success' ? row.state !== 'success' && row.state !== 'skipped' : !isFinishedTaskState(row.state),
    );
    const changes = picked.map((row): TaskInstanceChange => ({ dagId, runId, taskId: row.task_id, state: row.state, tryNumber: row.try_number, newState: state }));
    checkGuard(options, taskId === null ? null : { taskId, row: targetRow }, changes);
    const target = targetRow ? { taskId: targetRow.task_id, previousState: targetRow.state, tryNumber: targetRow.try_number } : undefined;
    const runNow = await tx.execute<{ state: string }>(sql`select state from dag_run where id = ${run.id}`);
    let runState = runNow.rows[0]?.state ?? run.state;
    const none: Awaited<ReturnType<typeof advanceRuns>>['queued'] = [];
    if (dryRun) return { outcome: { dryRun, state, runState, taskInstances: changes, ...(target ? { target } : {}) }, queued: none };
    if (changes.length === 0) {
      throw new FlywheelError(
        'conflict',
        taskId === null ? `run "${runId}" has no task instance to mark ${state}` : `task "${taskId}" is already ${state}${options.upstream || options.downstream ? ' (and so is every task in scope)' : ''}`,
      );
    }
    const note = `marked ${state} by ${options.by ?? 'an operator'}`;
    for (const change of changes) {
      const marked = await markTaskInstance(tx, run.id, change.taskId, { state: change.state, tryNumber: change.tryNumber }, state, note);
      if (!marked) throw new FlywheelError('conflict', `task "${change.taskId}" changed state meanwhile; reload and try again`);
    }
    let queued = none;
    if (runState === 'running') {
      const advanced = await advanceRuns(tx, context.dags, [run.id]);
      queued = advanced.queued;
      runState = advanced.finishedRuns.find((f) => f.dagRunId === run.id)?.state ?? runState;
    } else if (runState === 'success' || runState === 'failed') {
      runState = (await refreshFinishedRunState(tx, dag, run.id)) ?? runState;
    }
    await options.audit?.(tx, {
      ...(target ? { previousState: target.previousState, tryNumber: target.tryNumber } : {}),
      state,
      runState,
      marked: changes.map((c) => ({ taskId: c.taskId, previousState: c.state, tryNumber: c.tryNumber })),
    });
    return { outcome: { dryRun, state, runState, taskInstances: changes, ...(target ? { target } : {}) }, queued };
  });
  await context.executor.enqueue(queued);
  return outcome;
}

/**
 * Marks one task instance `success` or `failed` (Airflow's "mark success / failed"); see
 * {@link markTaskScope}. The same state again is a `conflict`.
 */
export async function markTaskState(
  context: ActionContext,
  dagId: string,
  runId: string,
  taskId: string,
  state: 'success' | 'failed',
  options: { by?: string; audit?: AuditHook } = {},
): Promise<MarkResult> {
  const outcome = await markTaskScope(context, dagId, runId, taskId, state, options);
  return { taskId, previousState: outcome.target!.previousState, state, runState: outcome.runState };
}

/** Pauses or unpauses a DAG the database knows. */
export async function setPaused(context: ActionContext, dagId: string, paused: boolean, options: { audit?: AuditHook } = {}): Promise<{ dagId: string; isPaused: boolean; changed: boolean }> {
  return inTransaction(context.db, async (tx) => {
    const before = await tx.execute<{ is_paused: boolean }>(sql`select is_paused from dag where dag_id = ${dagId} for update`);
    const row = before.rows[0];
    if (!row) throw new FlywheelError('not_found', `no DAG "${dagId}"`);
    if (row.is_paused !== paused) await tx.execute(sql`update dag set is_paused = ${paused} where dag_id = ${dagId}`);
    await options.audit?.(tx, { isPaused: paused, changed: row.is_paused !== paused });
    return { dagId, isPaused: paused, changed: row.is_paused !== paused };
  });
}
