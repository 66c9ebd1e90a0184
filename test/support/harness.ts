import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { loadConfig, type FlywheelConfig } from '../../core/config.ts';
import { getDagRun, getDagRunById } from '../../core/db/queries/dag-runs.ts';
import { listTaskInstances, listTaskTries } from '../../core/db/queries/task-instances.ts';
import { readLogLines } from '../../core/db/queries/task-logs.ts';
import type { TaskWorker } from '../../core/executor/task-worker.ts';
import { createRuntime, createScheduler, createTaskWorker, type Runtime } from '../../core/runtime.ts';
import { triggerDagRun, type TriggerOptions } from '../../core/scheduler/actions.ts';
import type { Scheduler } from '../../core/scheduler/scheduler.ts';
import type { DagRunRow } from '../../core/db/schema/dag-run.ts';
import { createTestDatabase } from './database.ts';

export const FIXTURE_DAGS = fileURLToPath(new URL('../fixtures/dags', import.meta.url));
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface HarnessOptions {
  /** @defaultValue test/fixtures/dags */
  dagsFolder?: string;
  /** Config overrides; tests default to fast heartbeats and scheduler passes. */
  config?: Partial<FlywheelConfig>;
  /** Workers started in this process, per pool. @defaultValue { default: 4 } */
  workers?: Record<string, number>;
  /** Start a scheduler loop in this process. @defaultValue true */
  scheduler?: boolean;
}

/**
 * One isolated Flywheel for a test: its own database (from the migrated template), its own
 * BullMQ prefix on the real Redis, and in-process scheduler and workers with short intervals.
 */
export class Harness {
  readonly schedulers: Scheduler[] = [];
  readonly workers: TaskWorker[] = [];
  private constructor(
    readonly config: FlywheelConfig,
    readonly runtime: Runtime,
    private readonly dropDatabase: () => Promise<void>,
  ) {}

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const database = await createTestDatabase();
    const config = loadConfig(
      {},
      {
        databaseUrl: database.url,
        redisUrl: REDIS_URL,
        dagsFolder: path.resolve(options.dagsFolder ?? FIXTURE_DAGS),
        queuePrefix: `fwtest-${randomUUID().slice(0, 8)}`,
        schedulerIntervalMs: 100,
        heartbeatMs: 200,
        zombieThresholdMs: 2000,
        dagRefreshMs: 60_000,
        logLevel: 'silent',
        shutdownGraceMs: 2000,
        ...options.config,
      },
    );
    const runtime = createRuntime(config, { name: 'test' });
    const harness = new Harness(config, runtime, database.drop);
    await runtime.dags.load();
    for (const [pool, concurrency] of Object.entries(options.workers ?? { default: 4 })) harness.startWorker(pool, concurrency);
    if (options.scheduler !== false) harness.startScheduler();
    else await harness.newScheduler().syncDags();
    return harness;
  }

  get db() {
    return this.runtime.db;
  }

  /** A scheduler on this harness's database and queues (not started). */
  newScheduler(overrides: Partial<ConstructorParameters<typeof Scheduler>[0]> = {}): Scheduler {
    return createScheduler(this.runtime, { requeueAfterMs: 2000, ...overrides });
  }

  startScheduler(overrides: Partial<ConstructorParameters<typeof Scheduler>[0]> = {}): Scheduler {
    const scheduler = this.newScheduler(overrides).start();
    this.schedulers.push(scheduler);
    return scheduler;
  }

  startWorker(pool: string, concurrency: number): TaskWorker {
    const worker = createTaskWorker(this.runtime, { pool, concurrency }).start();
    this.workers.push(worker);
    return worker;
  }

  /** Environment for a child process (CLI, worker) that should join this harness. */
  childEnv(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      DATABASE_URL: this.config.databaseUrl,
      REDIS_URL: this.config.redisUrl,
      DAGS_FOLDER: this.config.dagsFolder,
      FLYWHEEL_QUEUE_PREFIX: this.config.queuePrefix,
      FLYWHEEL_HEARTBEAT_MS: String(this.config.heartbeatMs),
      FLYWHEEL_ZOMBIE_THRESHOLD_MS: String(this.config.zombieThresholdMs),
      FLYWHEEL_SCHEDULER_INTERVAL_MS: String(this.config.schedulerIntervalMs),
      FLYWHEEL_SHUTDOWN_GRACE_MS: String(this.config.shutdownGraceMs),
      FLYWHEEL_LOG_LEVEL: 'warn',
    };
  }

  trigger(dagId: string, options: TriggerOptions = {}) {
    return triggerDagRun(this.runtime, dagId, options);
  }

  /** Waits until the run is in one of `states` (default: finished); throws with the task states on timeout. */
  async waitForRun(dagRunId: number, options: { states?: string[]; timeoutMs?: number } = {}): Promise<DagRunRow> {
    const states = options.states ?? ['success', 'failed'];
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      const run = await getDagRunById(this.db, dagRunId);
      if (run && states.includes(run.state)) return run;
      if (Date.now() > deadline) {
        const tis = await listTaskInstances(this.db, dagRunId);
        throw new Error(`run ${dagRunId} is ${run?.state}, not ${states.join('|')}; tasks: ${tis.map((t) => `${t.taskId}=${t.state}#${t.tryNumber}`).join(', ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** taskId → state for a run. */
  async taskStates(dagRunId: number): Promise<Record<string, string>> {
    const tis = await listTaskInstances(this.db, dagRunId);
    return Object.fromEntries(tis.map((t) => [t.taskId, t.state]));
  }

  taskInstances(dagRunId: number) {
    return listTaskInstances(this.db, dagRunId);
  }

  tries(dagRunId: number, taskId: string) {
    return listTaskTries(this.db, dagRunId, taskId);
  }

  logs(dagRunId: number, taskId: string, tryNumber: number) {
    return readLogLines(this.db, dagRunId, taskId, tryNumber);
  }

  run(dagId: string, runId: string) {
    return getDagRun(this.db, dagId, runId);
  }

  /** A separate Redis client (for checking BullMQ keys). */
  redisClient(): Redis {
    return new Redis(this.config.redisUrl);
  }

  async close(): Promise<void> {
    await Promise.all(this.schedulers.map((s) => s.stop()));
    await Promise.all(this.workers.map((w) => w.close()));
    await this.runtime.close();
    const redis = this.redisClient();
    try {
      const keys = await redis.keys(`${this.config.queuePrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
    await this.dropDatabase();
  }
}
