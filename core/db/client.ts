import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from './schema/index.ts';

export type Schema = typeof schema;
export type Database = NodePgDatabase<Schema>;
/** A database handle or an open transaction: every query function takes this first. */
export type Queryable = Database | Parameters<Parameters<Database['transaction']>[0]>[0];

export interface DatabaseConnection {
  db: Database;
  pool: pg.Pool;
  close(): Promise<void>;
}

// Read int8 (bigserial ids, counts) as JS numbers: ids stay far below 2^53.
pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));

/** Opens a connection pool. @param max pool size, default 10. */
export function connectDatabase(url: string, max = 10): DatabaseConnection {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'flywheel' });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it on next use.
  });
  pool.on('connect', (client) => {
    // pg-pool listens for errors on idle clients only. A checked-out client (a transaction
    // between two statements) whose connection drops emits 'error' too, which would end the
    // process with an uncaught exception when PostgreSQL goes away: a worker would lose its
    // running tries. Its statement in flight, or its next one, fails with the error instead.
    client.on('error', () => undefined);
  });
  const db = drizzle(pool, { schema });
  return { db, pool, close: () => pool.end() };
}
