import { randomUUID } from 'node:crypto';
import type { FlywheelConfig } from './config.ts';
import { getDagRunById } from './db/queries/dag-runs.ts';
import { listTaskInstances } from './db/queries/task-instances.ts';
import { migrateDatabase } from './db/migrate.ts';
import { TaskWorker } from './executor/task-worker.ts';
import { sql } from 'drizzle-orm';
import { inTransaction } from './db/transaction.ts';
import { createRuntime, type Runtime } from './runtime.ts';
import { advanceRuns, createTaskInstances, lockDags } from './scheduler/transitions.ts';
import { triggerDagRun } from './scheduler/actions.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import type { JsonObject, JsonValue } from './sdk/json.ts';

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
export async function runDagTest(config: FlywheelConfig, dagId: string, options: { conf?: JsonObject; timeoutMs?: number } = {}): Promise<DagTestResult> {
  await migrateDatabase(config.databaseUrl);
  const queuePrefix = `${config.queuePrefix}-test-${randomUUID().slice(0, 8)}`;
  const runtime = createRuntime(config, { name: 'dags-test', queuePrefix });
  const workers: TaskWorker[] = [];
  let scheduler: Scheduler | null = null;
  const started = Date.now();
  try {
    const dag = await runtime.dags.require(dagId);
    // Created queued so the workers exist (scoped to this run) before its first task is queued.
    const run = await triggerDagRun(runtime, dagId, { ...(options.conf ? { conf: options.conf } : {}), runId: `test__${new Date().toISOString()}`, triggeredBy: 'dags test', startNow: false });
    const pools = [...new Set([...dag.tasks.values()].map((t) => t.pool))];
    for (const pool of pools) {
      workers.push(
        new TaskWorker({
          pool,
          concurrency: pool === 'gpu' ? 1 : 8,
          connection: runtime.redis,
          prefix: queuePrefix,
          db: runtime.db,
          dags: runtime.dags,
          executor: runtime.executor,
          heartbeatMs: config.heartbeatMs,
          xcomMaxBytes: config.xcomMaxBytes,
          shutdownGraceMs: config.shutdownGraceMs,
          logger: runtime.logger,
          onlyDagRunIds: [run.dagRunId],
        }).start(),
      );
    }
    scheduler = new Scheduler({
      db: runtime.db,
      dags: runtime.dags,
      executor: runtime.executor,
      logger: runtime.logger,
      intervalMs: Math.min(config.schedulerIntervalMs, 250),
      zombieThresholdMs: config.zombieThresholdMs,
      dagRefreshMs: Number.MAX_SAFE_INTEGER,
      onlyDagRunIds: [run.dagRunId],
    });
    await startScopedRun(runtime, run.dagRunId);
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
    await runtime.close();
  }
}

/** Starts the test run whatever the DAG's pause state or other active runs. */
async function startScopedRun(runtime: Runtime, dagRunId: number): Promise<void> {
  const run = await getDagRunById(runtime.db, dagRunId);
  if (!run) throw new Error(`run ${dagRunId} vanished`);
  const dag = await runtime.dags.require(run.dagId);
  const queued = await inTransaction(runtime.db, async (tx) => {
    await lockDags(tx, [run.dagId]);
    await createTaskInstances(tx, dag, { id: run.id, runId: run.runId });
    await tx.execute(sql`update dag_run set state = 'running', start_date = now() where id = ${run.id} and state = 'queued'`);
    return (await advanceRuns(tx, runtime.dags, [run.id], { onlyDagRunIds: [run.id] })).queued;
  });
  await runtime.executor.enqueue(queued);
}
