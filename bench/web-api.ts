/**
 * Web API benchmark: latency of the paginated reads with many runs of one DAG (10,000 by
 * default), first page against a deep page, measured in one run on the local PostgreSQL.
 * Keyset pagination should make the deep page cost about what the first one does.
 *
 *   node --import ./core/loader/register.js bench/web-api.ts [--json] [--runs N] [--requests N]
 *
 * `--help` lists the flags and their defaults; a bad value or an unknown flag exits 2 before
 * anything runs (the shared parser, bench/support/flags.ts).
 */
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../core/config.ts';
import { createRuntime, createScheduler } from '../core/runtime.ts';
import { createTestDatabase } from '../test/support/database.ts';
import { createToken, createUser } from '../web/auth/accounts.ts';
import { createWebApp, listen } from '../web/server.ts';
import { parseBenchFlags, positiveInteger } from './support/flags.ts';

const { json, runs, requests } = parseBenchFlags({
  name: 'bench/web-api.ts',
  description: 'Web API benchmark: latency of the paginated reads (first page against a deep page) with many runs of one DAG, on the local PostgreSQL.',
  flags: {
    runs: positiveInteger('N', 'runs of the DAG inserted', 10_000),
    requests: positiveInteger('N', 'sequential requests measured per endpoint (after 20 warm-up requests)', 200),
  },
  environment: 'TEST_DATABASE_URL  the PostgreSQL server, default postgres://postgres@127.0.0.1:5432/postgres (a fresh database is made and dropped)',
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const database = await createTestDatabase();
const config = loadConfig(
  {},
  {
    databaseUrl: database.url,
    dagsFolder: fileURLToPath(new URL('../test/fixtures/dags-web', import.meta.url)),
    queuePrefix: `fwbench-${randomUUID().slice(0, 8)}`,
    logLevel: 'silent',
    secretKey: 'bench-secret-key-0123456789-0123456789',
  },
);
const runtime = createRuntime(config, { name: 'bench-web' });
try {
  await runtime.dags.load();
  await createScheduler(runtime).syncDags();
  await runtime.db.execute(sql`
    insert into dag_run (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, start_date, end_date)
    select 'web_daily', 'scheduled__' || g, 'scheduled', t, t, t + interval '1 day', 'success', t, t + interval '5 minutes'
    from generate_series(1, ${runs}) g, lateral (select timestamptz '2000-01-01Z' + g * interval '1 hour' as t) x
  `);
  await runtime.db.execute(sql`
    insert into task_instance (dag_run_id, task_id, dag_id, run_id, state, try_number, max_tries, pool, priority_weight)
    select id, 'only', dag_id, run_id, 'success', 1, 1, 'default', 1 from dag_run
  `);
  await runtime.db.execute(sql`analyze`);
  await createUser(runtime.db, { username: 'bench', role: 'viewer', password: 'bench-password' });
  const { token } = await createToken(runtime.db, 'bench');
  const server = await listen(createWebApp({ db: runtime.db, logger: runtime.logger, redis: runtime.redis, dags: runtime.dags, executor: runtime.executor, secretKey: config.secretKey }), 0, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  const ids = (await runtime.db.execute<{ id: number }>(sql`select id from dag_run order by logical_date desc, id desc`)).rows.map((r) => r.id);
  const deepCursor = ids[Math.floor(ids.length * 0.9)]!;

  async function measure(path: string) {
    const times: number[] = [];
    for (let i = 0; i < requests + 20; i += 1) {
      const start = performance.now();
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
      if (i >= 20) times.push(performance.now() - start); // 20 warm-up requests
    }
    times.sort((a, b) => a - b);
    return { p50Ms: Number(percentile(times, 50).toFixed(2)), p99Ms: Number(percentile(times, 99).toFixed(2)) };
  }

  const results = {
    runs,
    requests,
    firstPage: await measure('/dags/web_daily/runs?limit=25'),
    deepPage: await measure(`/dags/web_daily/runs?limit=25&cursor=${deepCursor}`),
    gridFirstPage: await measure('/dags/web_daily/grid?limit=25'),
    gridDeepPage: await measure(`/dags/web_daily/grid?limit=25&cursor=${deepCursor}`),
    dagList: await measure('/dags'),
    health: await measure('/health'),
  };
  const ratio = Number((results.deepPage.p50Ms / results.firstPage.p50Ms).toFixed(2));
  server.closeAllConnections();
  server.close();
  if (json) process.stdout.write(`${JSON.stringify({ ...results, deepOverFirstP50: ratio }, null, 2)}\n`);
  else {
    process.stdout.write(`web API with ${runs} runs of one DAG, ${requests} sequential requests each (bearer token, local PostgreSQL)\n`);
    for (const [name, value] of Object.entries(results)) {
      if (typeof value === 'object') process.stdout.write(`  ${name.padEnd(14)} p50 ${value.p50Ms} ms  p99 ${value.p99Ms} ms\n`);
    }
    process.stdout.write(`  deep page / first page (p50): ${ratio}\n`);
  }
} finally {
  await runtime.close();
  await database.drop();
}
