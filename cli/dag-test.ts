import { randomUUID } from 'node:crypto';
import type { FlywheelConfig } from '../core/config.ts';
import { getDagRunById } from '../core/db/queries/dag-runs.ts';
import { listTaskInstances } from '../core/db/queries/task-instances.ts';
import { migrateDatabase } from '../core/db/migrate.ts';
import type { TaskWorker } from '../core/executor/task-worker.ts';
import { sql } from 'drizzle-orm';
import { inTransaction, lockDags } from '../core/db/transaction.ts';
import { createRuntime, createScheduler, createTaskWorker, type Runtime } from '../core/runtime.ts';
import { FlywheelError } from '../core/errors.ts';
import { requireRedis } from '../core/service-errors.ts';
import { checkConf } from '../core/scheduler/actions.ts';
import { dataIntervalFor, insertDagRun } from '../core/scheduler/dag-runs.ts';
import { upsertDags } from '../core/scheduler/dag-sync.ts';
import { advanceRuns, createTaskInstances } from '../core/state/advance.ts';
import type { QueuedTask } from '../core/state/queued-task.ts';
import type { Dag } from '../core/sdk/dag.ts';
import type { Scheduler } from '../core/scheduler/scheduler.ts';
import type { JsonObject, JsonValue } from '../core/sdk/json.ts';

export interface DagTestResult {
  dagId: string;
  runId: string;
  state: string;
  durationMs: number;
  tasks: {
    taskId: string;
    state: string;
    tryNumber: number;
    output: JsonValue | null;
    startDate: string | null;
    endDate: string | null;
    durationMs: number | null;
    error: string | null;
  }[];
}

/**
 * Runs one DAG run to the end inside this process: its own scheduler loop and one worker per
 * pool the DAG uses, against the real PostgreSQL and Redis. Its jobs go to private queues,
 * and its scheduler and workers touch only this run.
 */
export interface DagTestOptions {
  conf?: JsonObject;
  /** The run's logical date (Airflow's `dags test <dag_id> <logical_date>`). @defaultValue now */
  logicalDate?: Date;
  timeoutMs?: number;
  /** Its scheduler loop's period. @defaultValue min(config, 250 ms) */
  schedulerIntervalMs?: number;
}

export async function runDagTest(config: FlywheelConfig, dagId: string, options: DagTestOptions = {}): Promise<DagTestResult> {
  // Redis first: its run is written to PostgreSQL before its workers (on Redis) take it. The
  // database must exist already (`flywheel db migrate` creates it); pending migrations are applied.
  await requireRedis(config.redisUrl);
  await migrateDatabase(config.databaseUrl);
  const queuePrefix = `${config.queuePrefix}-test-${randomUUID().slice(0, 8)}`;
  const runtime = createRuntime(config, { name: 'dags-test', queuePrefix });
  const workers: TaskWorker[] = [];
  let scheduler: Scheduler | null = null;
  const started = Date.now();
  try {
    const dag = await runtime.dags.require(dagId); // not found: a one-line error, as by `dags trigger`
    if (dag.validateConf) await checkConf(dag, options.conf ?? {});
    // Created and started in one transaction: a run left `queued` for a moment is started by any
    // live scheduler on this database, whose workers would then run its tasks. Its first tasks'
    // jobs are sent only once this run's own workers exist.
    const { run, queued } = await createStartedRun(runtime, dag, options.conf ?? {}, queuePrefix, options.logicalDate ?? new Date());
    const pools = [...new Set([...dag.tasks.values()].map((t) => t.pool))];
    for (const pool of pools) {
      workers.push(
        createTaskWorker(runtime, { pool, concurrency: pool === 'gpu' ? 1 : 8, onlyDagRunIds: [run.dagRunId] }).start(),
      );
    }
    scheduler = createScheduler(runtime, {
      intervalMs: options.schedulerIntervalMs ?? Math.min(config.schedulerIntervalMs, 250),
      dagRefreshMs: Number.MAX_SAFE_INTEGER,
      onlyDagRunIds: [run.dagRunId],
    });
    await runtime.executor.enqueue(queued);
    scheduler.start();
    const deadline = options.timeoutMs ? started + options.timeoutMs : Number.POSITIVE_INFINITY;
    let state = 'running';
    while (Date.now() < deadline) {
      const current = await getDagRunById(runtime.db, run.dagRunId);
      state = current?.state ?? 'failed';
      if (state === 'success' || state === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const instances = await listTaskInstances(runtime.db, run.dagRunId);
    const order = new Map(dag.topologicalOrder.map((taskId, index) => [taskId, index]));
    instances.sort((a, b) => (order.get(a.taskId) ?? 0) - (order.get(b.taskId) ?? 0));
    return {
      dagId,
      runId: run.runId,
      state,
      durationMs: Date.now() - started,
      tasks: instances.map((ti) => ({
        taskId: ti.taskId,
        state: ti.state,
        tryNumber: ti.tryNumber,
        output: ti.output ?? null,
        startDate: ti.startDate?.toISOString() ?? null,
        endDate: ti.endDate?.toISOString() ?? null,
        durationMs: ti.durationMs,
        error: ti.error,
      })),
    };
  } finally {
    await scheduler?.stop();
    await Promise.all(workers.map((w) => w.close()));
    await runtime.executor.obliterateAll().catch((error: unknown) => runtime.logger.warn({ err: error }, 'could not remove the private test queues'));
    await runtime.close();
  }
}

/** Creates the test run already running (whatever the DAG's pause state or other active runs) with its first tasks queued. */
async function createStartedRun(runtime: Runtime, dag: Dag, conf: JsonObject, queuePrefix: string, logicalDate: Date): Promise<{ run: { dagRunId: number; runId: string }; queued: QueuedTask[] }> {
  return inTransaction(runtime.db, async (tx) => {
    await upsertDags(tx, [dag]);
    await lockDags(tx, [dag.dagId]);
    const inserted = await insertDagRun(tx, {
      dagId: dag.dagId,
      runType: 'manual',
      logicalDate,
      dataInterval: dataIntervalFor(dag, logicalDate, 'manual'),
      conf,
      runId: `test__${logicalDate.toISOString()}`,
      triggeredBy: 'dags test',
      // Whoever queues this run's tasks (a live scheduler too) sends them to this process's queues.
      queuePrefix,
    });
    if (!inserted) throw new FlywheelError('conflict', `DAG "${dag.dagId}" already has a run test__${logicalDate.toISOString()}`);
    await createTaskInstances(tx, dag, inserted);
    await tx.execute(sql`update dag_run set state = 'running', start_date = now() where id = ${inserted.id} and state = 'queued'`);
    const { queued } = await advanceRuns(tx, runtime.dags, [inserted.id], { onlyDagRunIds: [inserted.id] });
    return { run: { dagRunId: inserted.id, runId: inserted.runId }, queued };
  });
}
