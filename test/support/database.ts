import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { connectDatabase, type DatabaseConnection } from '../../core/db/client.ts';
import { migrateDatabase } from '../../core/db/migrate.ts';

const BASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TEMPLATE = 'flywheel_test_template';

function urlFor(database: string): string {
  const url = new URL(BASE_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A fresh, migrated database for one test file: copied from a migrated template (fast),
 * dropped by the returned `drop`.
 */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `flywheel_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: urlFor('postgres') });
  await admin.connect();
  try {
    // Test files run in parallel: one at a time migrates the template and copies it.
    await admin.query('select pg_advisory_lock(4242)');
    try {
      await migrateDatabase(urlFor(TEMPLATE), { createDatabase: true });
      await admin.query(`create database "${name}" template "${TEMPLATE}"`);
    } finally {
      await admin.query('select pg_advisory_unlock(4242)');
    }
  } finally {
    await admin.end();
  }
  return {
    url: urlFor(name),
    name,
    drop: async () => {
      const client = new pg.Client({ connectionString: urlFor('postgres') });
      await client.connect();
      try {
        await client.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A test database connected for one `describe` block (see `useTestDatabase`). */
export interface TestDatabaseConnection {
  readonly url: string;
  readonly db: DatabaseConnection['db'];
  readonly pool: DatabaseConnection['pool'];
}

/**
 * Registers `beforeAll` / `afterAll` hooks in the calling `describe` block: a fresh migrated
 * database with a connection pool of `poolSize`, closed and dropped afterwards. Its fields are
 * readable from the block's own hooks (registered later, so they run after) and its tests.
 */
export function useTestDatabase(poolSize = 4): TestDatabaseConnection {
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let connection: DatabaseConnection | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    connection = connectDatabase(database.url, poolSize);
  });
  afterAll(async () => {
    await connection?.close();
    await database?.drop();
  });
  const open = () => {
    if (!connection || !database) throw new Error('the test database is open only inside the describe block’s hooks and tests');
    return { database, connection };
  };
  return {
    get url() {
      return open().database.url;
    },
    get db() {
      return open().connection.db;
    },
    get pool() {
      return open().connection.pool;
    },
  };
}
