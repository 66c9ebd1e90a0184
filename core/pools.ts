import { asc, sql } from 'drizzle-orm';
import type { Database } from './db/client.ts';
import { pools } from './db/schema/pool.ts';
import { FlywheelError } from './errors.ts';
import type { QueueExecutor } from './executor/executor.ts';

/**
 * The pools every install has, created by migration 0001_default_pools.sql (a unit test keeps the
 * two in step): what `flywheel dags check` accepts without a database to ask.
 */
export const DEFAULT_POOL_NAMES = ['default', 'gpu'] as const;

/** The pools, with each pool's slot limit applied as its BullMQ queue's global concurrency. */
export async function applyPoolSlots(db: Database, executor: QueueExecutor): Promise<{ name: string; slots: number }[]> {
  const rows = await db.select().from(pools).orderBy(asc(pools.name));
  await Promise.all(rows.map((pool) => executor.queue(pool.name).setGlobalConcurrency(pool.slots)));
  return rows.map((pool) => ({ name: pool.name, slots: pool.slots }));
}

/** Creates or resizes a pool and applies its slot limit to the queue at once. A bad name or slot count is `invalid`. */
export async function setPool(
  db: Database,
  executor: QueueExecutor,
  pool: { name: string; slots: number; description?: string },
): Promise<void> {
  if (!/^[A-Za-z0-9_-]+$/.test(pool.name)) throw new FlywheelError('invalid', `pool name "${pool.name}" may use letters, digits, _ and - only`);
  if (!Number.isInteger(pool.slots) || pool.slots < 1) throw new FlywheelError('invalid', `pool slots must be a positive integer, not ${pool.slots}`);
  await db
    .insert(pools)
    .values({ name: pool.name, slots: pool.slots, description: pool.description ?? null })
    .onConflictDoUpdate({
      target: pools.name,
      set: { slots: pool.slots, description: pool.description === undefined ? sql`${pools.description}` : pool.description },
    });
  await executor.queue(pool.name).setGlobalConcurrency(pool.slots);
}
