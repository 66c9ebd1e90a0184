/**
 * The operators (reusable task templates) on their own, away from Daily Picks: SQL → Arrow with
 * typed columns and nulls, COPY-and-swap over a table and views of the test's own, the
 * generational Redis hash cache, and the SQL → Arrow task factory run as a task.
 */
import { randomUUID } from 'node:crypto';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dag } from '../../core/sdk/index.ts';
import type { TaskContext } from '../../core/sdk/index.ts';
import { copyAndSwap, swapBack, withAdvisoryLock, type CopyRow } from '../../operators/copy-and-swap.ts';
import { hashCacheKeys, RedisHashCache } from '../../operators/redis-hash-cache.ts';
import { cursorBatches, sqlToArrow, sqlToArrowTask } from '../../operators/sql-to-arrow.ts';
import { useTestDatabase } from '../support/database.ts';
import { REDIS_URL } from '../support/harness.ts';

async function readArrow(file: string) {
  const table = tableFromIPC(await readFile(file));
  return { table, rows: table.toArray().map((row) => row.toJSON() as Record<string, unknown>) };
}

describe('operators', { timeout: 60_000 }, () => {
  const database = useTestDatabase(3);
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'flywheel-operators-'));
    await database.pool.query(`create table t (id int, name text, ok boolean, x double precision, y real, n int, at timestamptz)`);
    await database.pool.query(`insert into t values
      (1, 'a', null, 1.5, 0.25, 7, '2026-01-01T00:00:00Z'),
      (2, null, true, null, null, null, null),
      (3, 'tab\there', false, -2, 1, 9, '2026-01-02T12:00:00.123Z')`);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('sqlToArrow', () => {
    it('writes the declared columns with their Arrow types, batch by batch, nulls as declared', async () => {
      const file = path.join(dir, 'nested', 't.arrow');
      const result = await sqlToArrow({
        pool: database.pool,
        query: 'select id, name, ok, x, y, n, at from t where id <= $1 order by id',
        values: [3],
        columns: { id: 'uint32', name: 'utf8', ok: 'bool', x: 'float64', y: 'float32', n: { type: 'int32', nullAs: -1 }, at: 'float64' },
        file,
        fetchSize: 2,
      });
      expect(result).toEqual({ file, rows: 3 });
      const { table, rows } = await readArrow(file);
      expect(table.batches.length).toBe(2);
      expect(table.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['id:Uint32', 'name:Utf8', 'ok:Bool', 'x:Float64', 'y:Float32', 'n:Int32', 'at:Float64']);
      expect(rows.map((r) => r.name)).toEqual(['a', null, 'tab\there']);
      // The first value of `ok` is null: the column is Bool because it says so, not because of its first value.
      expect(rows.map((r) => r.ok)).toEqual([null, true, false]);
      expect(rows[1]!.x).toBeNaN();
      expect(rows[1]!.y).toBeNaN();
      expect(rows.map((r) => r.n)).toEqual([7, -1, 9]);
      expect(rows[2]!.at).toBe(Date.parse('2026-01-02T12:00:00.123Z'));
    });

    it('an empty result is a file without rows', async () => {
      const file = path.join(dir, 'empty.arrow');
      expect(await sqlToArrow({ pool: database.pool, query: 'select id from t where false', columns: { id: 'int32' }, file })).toEqual({ file, rows: 0 });
      await access(file);
    });

    it('fails naming a missing column, or a null integer without nullAs, and leaves no file behind', async () => {
      const missing = path.join(dir, 'missing.arrow');
      await expect(sqlToArrow({ pool: database.pool, query: 'select id from t', columns: { id: 'int32', nope: 'utf8' }, file: missing })).rejects.toThrow(/no column "nope"/);
      await expect(access(missing)).rejects.toThrow();
      const nulls = path.join(dir, 'nulls.arrow');
      await expect(sqlToArrow({ pool: database.pool, query: 'select n from t', columns: { n: 'int32' }, file: nulls })).rejects.toThrow(/"n" is null/);
      await expect(access(nulls)).rejects.toThrow();
    });

    it('a consumer that leaves cursorBatches early gets its connection back outside the snapshot transaction', async () => {
      for await (const batch of cursorBatches<{ id: number }>(database.pool, 'select id from t order by id', [], { fetchSize: 1 })) {
        expect(batch).toEqual([{ id: 1 }]);
        break;
      }
      const clients = await Promise.all([database.pool.connect(), database.pool.connect(), database.pool.connect()]);
      try {
        for (const client of clients) expect((await client.query<{ s: string }>('select current_setting($1) as s', ['transaction_isolation'])).rows[0]!.s).toBe('read committed');
      } finally {
        for (const client of clients) client.release();
      }
    });
  });

  describe('copyAndSwap', () => {
    const columns = [
      ['k', 'text not null'],
      ['v', 'double precision not null'],
      ['note', 'text'],
    ] as const;
    const views = { view: 'sales', previousView: 'sales_previous' };
    const publish = (batch: number, rows: CopyRow[][], onSwap?: () => void) =>
      withAdvisoryLock(database.pool, 'operators-test', (client) =>
        copyAndSwap(client, {
          ...views,
          table: `sales_set_${batch}`,
          columns,
          primaryKey: ['k'],
          rows: (async function* () {
            yield* rows;
          })(),
          onSwap: async (tx) => {
            await tx.query('insert into swap_log (batch) values ($1)', [batch]);
            onSwap?.();
          },
        }),
      );
    const served = async (view = 'sales') => (await database.pool.query<{ k: string; v: number; note: string | null }>(`select k, v, note from ${view} order by k`)).rows;
    const tables = async () => (await database.pool.query<{ t: string }>(`select tablename as t from pg_tables where tablename like 'sales_set_%' order by 1`)).rows.map((r) => r.t);

    beforeAll(async () => {
      await database.pool.query('create table swap_log (batch int)');
    });

    it('creates both views on the first swap; later swaps keep the previous set and drop the one before', async () => {
      const first = await publish(1, [[['a', 1, null], ['b\tc', 2, 'line\nbreak \\ slash']]]);
      expect(first).toMatchObject({ rows: 2, replaced: null, dropped: null });
      expect(await served()).toEqual([{ k: 'a', v: 1, note: null }, { k: 'b\tc', v: 2, note: 'line\nbreak \\ slash' }]);
      expect(await served('sales_previous')).toEqual(await served());

      expect(await publish(2, [[['a', 10, 'x']], [['z', 26, null]]])).toMatchObject({ rows: 2, replaced: 'sales_set_1', dropped: null });
      expect(await served()).toEqual([{ k: 'a', v: 10, note: 'x' }, { k: 'z', v: 26, note: null }]);
      expect((await served('sales_previous')).map((r) => r.k)).toEqual(['a', 'b\tc']);

      expect(await publish(3, [[['q', 3, null]]])).toMatchObject({ rows: 1, replaced: 'sales_set_2', dropped: 'sales_set_1' });
      expect(await tables()).toEqual(['sales_set_2', 'sales_set_3']);
      const key = await database.pool.query(`select pg_get_constraintdef(oid) as def from pg_constraint where conname = 'sales_set_3_pkey'`);
      expect(key.rows).toEqual([{ def: 'PRIMARY KEY (k)' }]);
      expect((await database.pool.query<{ batch: number }>('select batch from swap_log order by batch')).rows.map((r) => r.batch)).toEqual([1, 2, 3]);
    });

    it('a failure inside the swap transaction changes nothing that readers see', async () => {
      await expect(
        publish(4, [[['w', 4, null]]], () => {
          throw new Error('bookkeeping failed');
        }),
      ).rejects.toThrow('bookkeeping failed');
      expect((await served()).map((r) => r.k)).toEqual(['q']);
      expect((await served('sales_previous')).map((r) => r.k)).toEqual(['a', 'z']);
      expect((await database.pool.query<{ n: number }>('select count(*)::int as n from swap_log where batch = 4')).rows[0]!.n).toBe(0);
    });

    it('swapBack exchanges the two sets; a second one restores them', async () => {
      await withAdvisoryLock(database.pool, 'operators-test', (client) => swapBack(client, views));
      expect((await served()).map((r) => r.k)).toEqual(['a', 'z']);
      expect((await served('sales_previous')).map((r) => r.k)).toEqual(['q']);
      await withAdvisoryLock(database.pool, 'operators-test', (client) => swapBack(client, views));
      expect((await served()).map((r) => r.k)).toEqual(['q']);
    });

    it('refuses a row of the wrong width and a name that is not a plain identifier', async () => {
      await expect(publish(5, [[['only-one']]])).rejects.toThrow(/1 values for 3 columns/);
      await expect(withAdvisoryLock(database.pool, 1, (client) => copyAndSwap(client, { ...views, table: 'x; drop table t', columns, rows: [] }))).rejects.toThrow(/not a plain SQL identifier/);
      expect((await served()).map((r) => r.k)).toEqual(['q']);
    });
  });

  describe('RedisHashCache', () => {
    let redis: Redis;
    const prefix = `fwops-${randomUUID().slice(0, 8)}`;
    beforeAll(() => {
      redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    });
    afterAll(async () => {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });

    it('fills generations, moves readers with the pointer, and drops old generations', async () => {
      const cache = new RedisHashCache(redis, hashCacheKeys(prefix));
      expect(await cache.get('p1')).toBeNull();
      expect(await cache.fill(1, [[['p1', 'one'], ['p2', 'two']], [['p3', 'three']]])).toBe(3);
      await cache.setMeta(1, { built: 1 });
      expect(await cache.get('p1')).toBeNull();
      await cache.point(1);
      expect(await cache.get('p1')).toBe('one');
      expect(await cache.current()).toBe('1');

      await cache.write(2, [['p1', 'uno']]);
      expect(await cache.get('p1')).toBe('one');
      await cache.point(2);
      expect(await cache.get('p1')).toBe('uno');
      expect(await cache.getMeta(1)).toEqual({ built: 1 });
      expect(await redis.hlen(`${prefix}:gen:1:hash`)).toBe(3);

      await cache.drop([1]);
      expect(await cache.has(1)).toBe(false);
      expect(await cache.getMeta(1)).toBeNull();
      await cache.clear(2);
      expect(await cache.has(2)).toBe(false);
      await cache.unpoint();
      expect(await cache.current()).toBeNull();
    });
  });

  describe('sqlToArrowTask', () => {
    it('declares a task whose run writes the query for its run to the artifacts folder', async () => {
      let handle;
      const declared = dag({ dagId: 'operators_example', schedule: null, defaultArgs: { retries: 1 } }, () => {
        handle = sqlToArrowTask({
          taskId: 'snapshot',
          query: 'select id, name from t where at < $1 order by id',
          values: (ctx) => [ctx.dataInterval.end],
          columns: { id: 'int32', name: 'utf8' },
          pool: 'default',
        });
      });
      expect(handle).toEqual({ taskId: 'snapshot', dagId: 'operators_example' });
      const definition = declared.task('snapshot');
      expect(definition).toMatchObject({ retries: 1, pool: 'default', sandboxed: false, upstreamIds: [], doc: 'Runs a query and writes its rows to an Arrow file.' });
      const saved = { DATABASE_URL: process.env.DATABASE_URL, ARTIFACTS_DIR: process.env.ARTIFACTS_DIR };
      process.env.DATABASE_URL = database.url;
      process.env.ARTIFACTS_DIR = dir;
      const lines: string[] = [];
      const log = Object.assign((m: string) => void lines.push(m), { info: (m: string) => void lines.push(m), warn: (m: string) => void lines.push(m), error: (m: string) => void lines.push(m) });
      const ctx = {
        dagId: 'operators_example',
        runId: 'manual__2026-01-02T00:00:00+00:00',
        taskId: 'snapshot',
        tryNumber: 1,
        maxTries: 2,
        logicalDate: new Date('2026-01-02T00:00:00Z'),
        dataInterval: { start: new Date('2026-01-01T00:00:00Z'), end: new Date('2026-01-02T00:00:00Z') },
        conf: {},
        signal: new AbortController().signal,
        log,
        upstream: () => Promise.reject(new Error('no upstream')),
      } as unknown as TaskContext;
      try {
        const output = (await definition.run(ctx)) as { file: string; rows: number };
        expect(output).toEqual({ file: path.join(dir, 'operators_example', 'runs', 'manual__2026-01-02T00_00_00_00_00', 'snapshot.arrow'), rows: 1 });
        expect((await readArrow(output.file)).rows).toEqual([{ id: 1, name: 'a' }]);
        expect(lines).toEqual([`1 rows → ${output.file}`]);
      } finally {
        process.env.DATABASE_URL = saved.DATABASE_URL;
        process.env.ARTIFACTS_DIR = saved.ARTIFACTS_DIR;
        if (saved.DATABASE_URL === undefined) delete process.env.DATABASE_URL;
        if (saved.ARTIFACTS_DIR === undefined) delete process.env.ARTIFACTS_DIR;
      }
    });
  });
});
