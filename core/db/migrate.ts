import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { FlywheelError } from '../errors.ts';
import { connectDatabase } from './client.ts';
import * as schema from './schema/index.ts';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));

/** Creates the database named in `url` when it does not exist. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) throw new FlywheelError('invalid', 'DATABASE_URL names no database');
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  client.on('error', () => undefined); // the failing call rejects with it
  // A failure to connect goes up as it came: the CLI explains it in one line (core/service-errors.ts).
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount) return false;
    try {
      await client.query(`create database "${name.replaceAll('"', '""')}"`);
      return true;
    } catch (error) {
      // Another process created it between our check and our create.
      if ((error as { code?: string }).code === '42P04' || (error as { code?: string }).code === '23505') return false;
      throw error;
    }
  } finally {
    await client.end();
  }
}

export interface MigrateOptions {
  /**
   * Create the database when it does not exist. Only `flywheel db migrate` does (and the tests'
   * and benches' own databases): any other command that created it would take a mistyped
   * DATABASE_URL for a new, empty install — and report success for a run no scheduler will see.
   * @defaultValue false: a missing database is PostgreSQL's 3D000 error, which the CLI explains naming it and `flywheel db migrate`
   */
  createDatabase?: boolean;
}

/** Applies every pending migration (serialised by an advisory lock), first creating the database if asked to. */
export async function migrateDatabase(url: string, options: MigrateOptions = {}): Promise<{ created: boolean }> {
  const created = options.createDatabase ? await ensureDatabase(url) : false;
  const connection = connectDatabase(url, 1);
  try {
    const client = await connection.pool.connect();
    try {
      await client.query('select pg_advisory_lock(728131)');
      try {
        await migrate(drizzle(client, { schema }), { migrationsFolder: MIGRATIONS_FOLDER });
      } finally {
        await client.query('select pg_advisory_unlock(728131)');
      }
    } finally {
      client.release();
    }
  } finally {
    await connection.close();
  }
  return { created };
}
