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
import type { RunType, TaskState } from '../sdk/states.ts';
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

/** Clears a task instance (and, if asked, everything downstream of it) so it runs again. */
export async function clearTasks(
  context: ActionContext,
  dagId: string,
  runId: string,
  taskId: string,
  options: { downstream?: boolean; audit?: AuditHook } = {},
): Promise<string[]> {
  const dag = await context.dags.require(dagId);
  if (!dag.tasks.has(taskId)) throw new FlywheelError('not_found', `DAG "${dagId}" has no task "${taskId}"`);
  const run = await getDagRun(context.db, dagId, runId);
  if (!run) throw new FlywheelError('not_found', `DAG "${dagId}" has no run "${runId}"`);
  const taskIds = [taskId, ...(options.downstream ? dag.allDownstreamOf(taskId) : [])];
  return clearInRun(context, dag, run.id, () => Promise.resolve(taskIds), options.audit);
}

/** Clears every `failed` and `upstream_failed` task instance of a run (Airflow's "clear only failed"). */
export async function clearFailedTasks(context: ActionContext, dagId: string, runId: string, options: { audit?: AuditHook } = {}): Promise<string[]> {
  const dag = await context.dags.require(dagId);
  const run = await getDagRun(context.db, dagId, runId);
  if (!run) throw new FlywheelError('not_found', `DAG "${dagId}" has no run "${runId}"`);
  return clearInRun(
    context,
    dag,
    run.id,
    async (tx) => {
      // Read under the DAG lock, so no finish slips in between the read and the clear.
      const rows = await tx.execute<{ task_id: string }>(
        sql`select task_id from task_instance where dag_run_id = ${run.id} and state in ('failed', 'upstream_failed') order by task_id`,
      );
      return rows.rows.map((row) => row.task_id).filter((taskId) => dag.tasks.has(taskId));
    },
    options.audit,
  );
}

async function clearInRun(
  context: ActionContext,
  dag: Dag,
  dagRunId: number,
  pick: (tx: Queryable) => Promise<string[]>,
  audit: AuditHook | undefined,
): Promise<string[]> {
  const { cleared, queued } = await inTransaction(context.db, async (tx) => {
    await lockDags(tx, [dag.dagId]);
    const taskIds = await pick(tx);
    if (taskIds.length === 0) {
      // Nothing to clear is still an action someone took: it is audited like any other.
      await audit?.(tx, { cleared: [] });
      return { cleared: [], queued: [] };
    }
    const cleared = await clearTaskInstances(tx, dag, dagRunId, taskIds);
    await audit?.(tx, { cleared });
    // A finished run went back to queued and starts here; a running one is moved on at once.
    const started = await startQueuedRuns(tx, context.dags, [dag.dagId]);
    const advanced = await advanceRuns(tx, context.dags, [dagRunId]);
    return { cleared, queued: [...started, ...advanced.queued] };
  });
  await context.executor.enqueue(queued);
  return cleared;
}

/** What marking a task instance did. */
export interface MarkResult {
  taskId: string;
  previousState: TaskState;
  state: 'success' | 'failed';
  /** The run's state after the change. */
  runState: string;
}

/**
 * Marks a task instance `success` or `failed` (Airflow's "mark success / failed"). A running
 * try is ended: its worker's late report is ignored. In a running run the downstream tasks are
 * decided at once; in a finished run the run's state is derived again from its tasks.
 */
export async function markTaskState(
  context: ActionContext,
  dagId: string,
  runId: string,
  taskId: string,
  state: 'success' | 'failed',
  options: { by?: string; audit?: AuditHook } = {},
): Promise<MarkResult> {
  const dag = await context.dags.require(dagId);
  if (!dag.tasks.has(taskId)) throw new FlywheelError('not_found', `DAG "${dagId}" has no task "${taskId}"`);
  const run = await getDagRun(context.db, dagId, runId);
  if (!run) throw new FlywheelError('not_found', `DAG "${dagId}" has no run "${runId}"`);
  const { result, queued } = await inTransaction(context.db, async (tx) => {
    await lockDags(tx, [dagId]);
    const current = await tx.execute<{ state: TaskState; try_number: number }>(
      sql`select state, try_number from task_instance where dag_run_id = ${run.id} and task_id = ${taskId}`,
    );
    const row = current.rows[0];
    if (!row) throw new FlywheelError('conflict', `run "${runId}" has no task instance "${taskId}" yet (the run has not started)`);
    if (row.state === state) throw new FlywheelError('conflict', `task "${taskId}" is already ${state}`);
    const marked = await markTaskInstance(tx, run.id, taskId, { state: row.state, tryNumber: row.try_number }, state, `marked ${state} by ${options.by ?? 'an operator'}`);
    if (!marked) throw new FlywheelError('conflict', `task "${taskId}" changed state meanwhile; reload and try again`);
    const runRow = await tx.execute<{ state: string }>(sql`select state from dag_run where id = ${run.id}`);
    let runState = runRow.rows[0]?.state ?? run.state;
    let queued: Awaited<ReturnType<typeof advanceRuns>>['queued'] = [];
    if (runState === 'running') {
      const advanced = await advanceRuns(tx, context.dags, [run.id]);
      queued = advanced.queued;
      runState = advanced.finishedRuns.find((f) => f.dagRunId === run.id)?.state ?? runState;
    } else if (runState === 'success' || runState === 'failed') {
      runState = (await refreshFinishedRunState(tx, dag, run.id)) ?? runState;
    }
    const result: MarkResult = { taskId, previousState: marked.previousState, state, runState };
    await options.audit?.(tx, { previousState: marked.previousState, state, tryNumber: marked.tryNumber, runState });
    return { result, queued };
  });
  await context.executor.enqueue(queued);
  return result;
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
