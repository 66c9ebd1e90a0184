import { asc } from 'drizzle-orm';
import type { Database } from './db/client.ts';
import { pools } from './db/schema/pool.ts';
import type { QueueExecutor } from './executor/executor.ts';

/** The pools, with each pool's slot limit applied as its BullMQ queue's global concurrency. */
export async function applyPoolSlots(db: Database, executor: QueueExecutor): Promise<{ name: string; slots: number }[]> {
  const rows = await db.select().from(pools).orderBy(asc(pools.name));
  await Promise.all(rows.map((pool) => executor.queue(pool.name).setGlobalConcurrency(pool.slots)));
  return rows.map((pool) => ({ name: pool.name, slots: pool.slots }));
}
