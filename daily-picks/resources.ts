import { Redis } from 'ioredis';
import type pg from 'pg';
import { loadConfig, type FlywheelConfig } from '../core/config.ts';
import { connectDatabase, type Database } from '../core/db/client.ts';

/** What a Daily Picks task connects to, from the worker's environment (as Airflow's connections). */
export interface PipelineResources {
  config: FlywheelConfig;
  db: Database;
  /** The same connections as `db`, for cursors, advisory locks and DDL. */
  pool: pg.Pool;
  redis: Redis;
}

/** Opens the database (a small pool) and Redis for one task, closing both after `work`. */
export async function withResources<T>(work: (resources: PipelineResources) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = connectDatabase(config.databaseUrl, 4);
  const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
  // Failed commands reject with the reason; the connection's own error events would only repeat it.
  redis.on('error', () => undefined);
  try {
    return await work({ config, db: database.db, pool: database.pool, redis });
  } finally {
    redis.disconnect();
    await database.close();
  }
}
