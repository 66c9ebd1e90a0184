import { Redis } from 'ioredis';
import type { FlywheelConfig } from './config.ts';
import { connectDatabase, type Database, type DatabaseConnection } from './db/client.ts';
import { QueueExecutor } from './executor/executor.ts';
import { TaskWorker, type TaskWorkerOptions } from './executor/task-worker.ts';
import { DagBag } from './loader/dag-bag.ts';
import { createLogger, type Logger } from './logger.ts';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.ts';

/** The connections and shared parts one Flywheel process uses. */
export interface Runtime {
  config: FlywheelConfig;
  /** BullMQ key prefix of this process's queues. */
  queuePrefix: string;
  db: Database;
  database: DatabaseConnection;
  redis: Redis;
  executor: QueueExecutor;
  dags: DagBag;
  logger: Logger;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Process name in logs. */
  name: string;
  /** @defaultValue config.queuePrefix */
  queuePrefix?: string;
  /** @defaultValue 10 */
  databasePoolSize?: number;
  /**
   * Connect to Redis on first use only: for a CLI command that may never use it (a read of
   * PostgreSQL), whose output Redis down would otherwise fill with reconnect warnings. The
   * long-running processes connect at once: the web server's /health reports the connection.
   * @defaultValue false
   */
  lazyRedis?: boolean;
}

export function createRuntime(config: FlywheelConfig, options: RuntimeOptions): Runtime {
  const logger = createLogger(config.logLevel, options.name);
  const database = connectDatabase(config.databaseUrl, options.databasePoolSize ?? 10);
  // BullMQ needs maxRetriesPerRequest: null on connections its workers block on.
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null, lazyConnect: options.lazyRedis ?? false });
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  const queuePrefix = options.queuePrefix ?? config.queuePrefix;
  const executor = new QueueExecutor({ connection: redis, prefix: queuePrefix });
  const dags = new DagBag({ folder: config.dagsFolder, maxAgeMs: config.dagRefreshMs });
  return {
    config,
    queuePrefix,
    db: database.db,
    database,
    redis,
    executor,
    dags,
    logger,
    async close() {
      await executor.close();
      await database.close();
      redis.disconnect();
    },
  };
}

/** A scheduler on this runtime's database, DAGs and queues, timed by its config (not started). */
export function createScheduler(runtime: Runtime, overrides: Partial<SchedulerOptions> = {}): Scheduler {
  const { config } = runtime;
  return new Scheduler({
    db: runtime.db,
    dags: runtime.dags,
    executor: runtime.executor,
    logger: runtime.logger,
    intervalMs: config.schedulerIntervalMs,
    zombieThresholdMs: config.zombieThresholdMs,
    dagRefreshMs: config.dagRefreshMs,
    ...overrides,
  });
}

/** A worker for one pool on this runtime's database, DAGs and queues (not started). */
export function createTaskWorker(runtime: Runtime, options: Pick<TaskWorkerOptions, 'pool'> & Partial<TaskWorkerOptions>): TaskWorker {
  const { config } = runtime;
  return new TaskWorker({
    connection: runtime.redis,
    prefix: runtime.queuePrefix,
    db: runtime.db,
    dags: runtime.dags,
    executor: runtime.executor,
    heartbeatMs: config.heartbeatMs,
    xcomMaxBytes: config.xcomMaxBytes,
    shutdownGraceMs: config.shutdownGraceMs,
    logger: runtime.logger,
    ...options,
  });
}
