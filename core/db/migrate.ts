import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { connectDatabase } from './client.ts';
import * as schema from './schema/index.ts';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));

/** Creates the database named in `url` when it does not exist. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
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

/** Creates the database if missing and applies every pending migration (serialised by an advisory lock). */
export async function migrateDatabase(url: string): Promise<{ created: boolean }> {
  const created = await ensureDatabase(url);
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
