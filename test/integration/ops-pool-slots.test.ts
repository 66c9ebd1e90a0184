/**
 * Pool slot limits survive Redis losing its data. A pool's limit is its BullMQ queue's global
 * concurrency, kept only in the queue's metadata in Redis: a Redis restarted without persistence
 * (or flushed) forgot it, and the 1-slot `gpu` pool ran two tries at once until a scheduler
 * restarted. The scheduler now checks the limits every so often, and at once on reconnecting.
 * The data loss is simulated by deleting this test's own keys (its FLYWHEEL_QUEUE_PREFIX), never
 * by flushing the shared Redis.
 */
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { applyPoolSlots, setPool } from '../../core/pools.ts';
import { Harness, REDIS_URL, type HarnessOptions } from '../support/harness.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from './proc-support.ts';

const OPS_DAGS = fileURLToPath(new URL('../fixtures/dags-ops', import.meta.url));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(config: HarnessOptions['config'] = {}) {
  const harness = await Harness.start({ dagsFolder: OPS_DAGS, workers: {}, scheduler: false, config });
  cleanups.push(() => harness.close());
  // A direct connection: it sees (and wipes) Redis whatever the harness's own connection goes through.
  const admin = new Redis(REDIS_URL);
  cleanups.push(async () => admin.disconnect());
  const prefix = harness.config.queuePrefix;
  return {
    harness,
    /** The slot limit Redis holds for a pool's queue: null when it has none. */
    slotsInRedis: async (pool: string) => {
      const value = await admin.hget(`${prefix}:${pool}:meta`, 'concurrency');
      return value === null ? null : Number(value);
    },
    /** What a Redis restarted without persistence holds of this test's queues: nothing. */
    loseRedisData: async () => {
      const keys = await admin.keys(`${prefix}:*`);
      if (keys.length > 0) await admin.del(...keys);
    },
    setSlotsInRedis: (pool: string, slots: number) => admin.hset(`${prefix}:${pool}:meta`, 'concurrency', String(slots)),
  };
}

describe('pool slot limits after Redis lost its data', { timeout: 60_000 }, () => {
  it('are applied again by the scheduler loop: missing ones and ones that differ from the database', async () => {
    const { harness, slotsInRedis, loseRedisData, setSlotsInRedis } = await setUp();
    await setPool(harness.db, harness.runtime.executor, { name: 'gpu', slots: 1 });
    await setPool(harness.db, harness.runtime.executor, { name: 'etl', slots: 3 });
    await applyPoolSlots(harness.db, harness.runtime.executor); // as `flywheel scheduler` does at start
    expect([await slotsInRedis('gpu'), await slotsInRedis('etl'), await slotsInRedis('default')]).toEqual([1, 3, 128]);

    await loseRedisData();
    expect(await slotsInRedis('gpu')).toBeNull();

    // A scheduler that was running all along (started before the loss, as in production).
    harness.startScheduler({ poolCheckMs: 300 });
    await waitFor('the gpu pool to get its 1 slot back', async () => (await slotsInRedis('gpu')) === 1, { timeoutMs: 10_000 });
    expect([await slotsInRedis('etl'), await slotsInRedis('default')]).toEqual([3, 128]);

    // Lost again while the scheduler runs, and a value that is not the database's.
    await loseRedisData();
    await setSlotsInRedis('etl', 50);
    await waitFor('the slots to be applied again', async () => (await slotsInRedis('gpu')) === 1 && (await slotsInRedis('etl')) === 3 && (await slotsInRedis('default')) === 128, {
      timeoutMs: 10_000,
      detail: async () => `gpu ${await slotsInRedis('gpu')}, etl ${await slotsInRedis('etl')}, default ${await slotsInRedis('default')}`,
    });
  });

  it('are applied again as soon as the scheduler reconnects to a Redis that came back empty', async () => {
    const proxy = await TcpProxy.start({ targetHost: new URL(REDIS_URL).hostname, targetPort: Number(new URL(REDIS_URL).port || 6379) });
    cleanups.push(() => proxy.close());
    const { harness, slotsInRedis, loseRedisData } = await setUp({ redisUrl: proxy.rewrite(REDIS_URL) });
    await applyPoolSlots(harness.db, harness.runtime.executor);
    // Its periodic check would come only in 10 minutes: what follows is the reconnect's doing.
    const scheduler = harness.startScheduler({ poolCheckMs: 600_000 });
    await new Promise<void>((resolve) => scheduler.once('tick', resolve));
    expect(await slotsInRedis('gpu')).toBe(1);

    // Redis "restarts" without persistence: connections drop, and it comes back empty.
    proxy.cut();
    await loseRedisData();
    await new Promise((resolve) => setTimeout(resolve, 500));
    proxy.restore();
    await waitFor('the gpu pool to get its 1 slot back after the reconnect', async () => (await slotsInRedis('gpu')) === 1, { timeoutMs: 15_000 });
    expect(await slotsInRedis('default')).toBe(128);
  });
});
