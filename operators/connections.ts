import { Redis } from 'ioredis';
import type pg from 'pg';
import { loadConfig, type FlywheelConfig } from '../core/config.ts';
import { connectDatabase, type Database } from '../core/db/client.ts';

/** What a task connects to, from the worker's environment (as Airflow's connections). */
export interface TaskConnections {
  config: FlywheelConfig;
  db: Database;
  /** The same connections as `db`, for cursors, advisory locks, COPY and DDL. */
  pool: pg.Pool;
  /** Connects on first use: a task that never touches Redis never opens a connection. */
  redis: Redis;
}

export interface ConnectionOptions {
  /**
   * Connections in the task's PostgreSQL pool.
   * @defaultValue 4
   */
  poolSize?: number;
}

/**
 * Opens the database (a small pool) and Redis for one task from `DATABASE_URL` / `REDIS_URL`,
 * runs `work`, and closes both whatever happened. Call it inside `run`, so a sandboxed try
 * opens its own connections in its child process.
 */
export async function withConnections<T>(work: (connections: TaskConnections) => Promise<T>, options: ConnectionOptions = {}): Promise<T> {
  const config = loadConfig();
  const database = connectDatabase(config.databaseUrl, options.poolSize ?? 4);
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
