/**
 * A bench's own database, dropped and created again on every run, then migrated: each run
 * starts from nothing (no source rows, no model in production, no earlier picks). Only a
 * database whose name contains `bench` is dropped, so a mistyped URL cannot empty a real one.
 */
import pg from 'pg';
import { migrateDatabase } from '../../core/db/migrate.ts';

export async function recreateBenchDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!/bench/i.test(name)) throw new Error(`refusing to drop database "${name}": a bench drops and recreates its database on every run, so its name must contain "bench"`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name.replaceAll('"', '""')}" with (force)`);
  } finally {
    await client.end();
  }
  await migrateDatabase(url, { createDatabase: true });
}
