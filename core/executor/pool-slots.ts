import { asc } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { pools } from '../db/schema/pool.ts';
import type { QueueExecutor } from './executor.ts';

/** A pool whose slot limit had to be applied again to its queue. */
export interface ReappliedPool {
  name: string;
  slots: number;
  /** The queue's global concurrency before: null when Redis had none (lost with its data). */
  was: number | null;
}

/**
 * Makes each pool's queue carry the pool's slot limit as its global concurrency, and returns the
 * pools it had to fix. The limit lives only in the queue's metadata in Redis: a Redis restarted
 * without persistence (or flushed) loses it, and the pool then runs any number of tries at once.
 * One read from PostgreSQL, then one Redis read per pool and a write only where it differs.
 */
export async function ensurePoolSlots(db: Database, executor: QueueExecutor): Promise<ReappliedPool[]> {
  const rows = await db.select({ name: pools.name, slots: pools.slots }).from(pools).orderBy(asc(pools.name));
  const fixed = await Promise.all(
    rows.map(async (pool): Promise<ReappliedPool | null> => {
      const queue = executor.queue(pool.name);
      const was = await queue.getGlobalConcurrency();
      if (was === pool.slots) return null;
      await queue.setGlobalConcurrency(pool.slots);
      return { name: pool.name, slots: pool.slots, was };
    }),
  );
  return fixed.filter((pool): pool is ReappliedPool => pool !== null);
}
