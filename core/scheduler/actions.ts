import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client.ts';
import { getDagRun } from '../db/queries/dag-runs.ts';
import { inTransaction } from '../db/transaction.ts';
import type { QueueExecutor } from '../executor/executor.ts';
import type { DagBag } from '../loader/dag-bag.ts';
import type { Dag } from '../sdk/dag.ts';
import type { JsonObject } from '../sdk/json.ts';
import type { RunType } from '../sdk/states.ts';
import { dataIntervalFor, insertDagRun, runIdFor, startQueuedRuns } from './dag-runs.ts';
import { upsertDags } from './dag-sync.ts';
import { advanceRuns, clearTaskInstances, lockDags } from './transitions.ts';

/** What operator actions (CLI, web) need: the database, the DAG definitions and the queues. */
export interface ActionContext {
  db: Database;
  dags: DagBag;
  executor: QueueExecutor;
}

/** A request that names something that does not exist or cannot be done; the message says why. */
export class ActionError extends Error {
  override readonly name = 'ActionError';
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 = 400,
  ) {
    super(message);
  }
}

async function requireDag(context: ActionContext, dagId: string): Promise<Dag> {
  try {
    return await context.dags.require(dagId);
  } catch (error) {
    throw new ActionError((error as Error).message, 404);
  }
}

export interface TriggerOptions {
  conf?: JsonObject;
  logicalDate?: Date;
  runType?: RunType;
  runId?: string;
  triggeredBy?: string;
  /** Start the run now when the DAG's limits allow, instead of at the scheduler's next pass. @defaultValue true */
  startNow?: boolean;
}

/** Creates a run (manual by default) and starts it right away when `maxActiveRuns` allows. */
export async function triggerDagRun(context: ActionContext, dagId: string, options: TriggerOptions = {}) {
  const dag = await requireDag(context, dagId);
  const runType = options.runType ?? 'manual';
  const logicalDate = options.logicalDate ?? new Date();
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
    if (!inserted && !options.runId && runType === 'manual') {
      // Two manual triggers in the same millisecond: the second gets a distinguishing suffix.
      inserted = await insertDagRun(tx, { ...newRun, runId: `${runIdFor(runType, logicalDate)}_${randomUUID().slice(0, 8)}` });
    }
    if (!inserted) throw new ActionError(`DAG "${dagId}" already has a run ${options.runId ?? runIdFor(runType, logicalDate)}`, 409);
    const started = options.startNow === false ? [] : await startQueuedRuns(tx, context.dags, [dagId]);
    return { run: inserted, queued: started };
  });
  await context.executor.enqueue(queued);
  const stored = await getDagRun(context.db, dagId, run.runId);
  return { dagRunId: run.id, runId: run.runId, state: stored?.state ?? 'queued', logicalDate };
}

/** Creates backfill runs for every interval whose logical date lies in [from, to]. */
export async function backfillDag(context: ActionContext, dagId: string, from: Date, to: Date, options: { conf?: JsonObject; triggeredBy?: string } = {}) {
  const dag = await requireDag(context, dagId);
  if (!dag.timetable) throw new ActionError(`DAG "${dagId}" has no schedule to backfill`);
  if (from.getTime() > to.getTime()) throw new ActionError('--from is after --to');
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
  options: { downstream?: boolean } = {},
): Promise<string[]> {
  const dag = await requireDag(context, dagId);
  if (!dag.tasks.has(taskId)) throw new ActionError(`DAG "${dagId}" has no task "${taskId}"`, 404);
  const run = await getDagRun(context.db, dagId, runId);
  if (!run) throw new ActionError(`DAG "${dagId}" has no run "${runId}"`, 404);
  const taskIds = [taskId, ...(options.downstream ? dag.allDownstreamOf(taskId) : [])];
  const { cleared, queued } = await inTransaction(context.db, async (tx) => {
    await lockDags(tx, [dagId]);
    const cleared = await clearTaskInstances(tx, dag, run.id, taskIds);
    // A finished run went back to queued and starts here; a running one is moved on at once.
    const started = await startQueuedRuns(tx, context.dags, [dagId]);
    const advanced = await advanceRuns(tx, context.dags, [run.id]);
    return { cleared, queued: [...started, ...advanced.queued] };
  });
  await context.executor.enqueue(queued);
  return cleared;
}
