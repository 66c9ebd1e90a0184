import { Redis } from 'ioredis';
import type { FlywheelConfig } from './config.ts';
import { connectDatabase, type Database, type DatabaseConnection } from './db/client.ts';
import { QueueExecutor } from './executor/executor.ts';
import { DagBag } from './loader/dag-bag.ts';
import { createLogger, type Logger } from './logger.ts';

/** The connections and shared parts one Flywheel process uses. */
export interface Runtime {
  config: FlywheelConfig;
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
}

export function createRuntime(config: FlywheelConfig, options: RuntimeOptions): Runtime {
  const logger = createLogger(config.logLevel, options.name);
  const database = connectDatabase(config.databaseUrl, options.databasePoolSize ?? 10);
  // BullMQ needs maxRetriesPerRequest: null on connections its workers block on.
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  const executor = new QueueExecutor({ connection: redis, prefix: options.queuePrefix ?? config.queuePrefix });
  const dags = new DagBag({ folder: config.dagsFolder, maxAgeMs: config.dagRefreshMs });
  return {
    config,
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
