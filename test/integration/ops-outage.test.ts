/**
 * PostgreSQL goes away under a running web app (its DATABASE_URL goes through a TCP proxy that
 * the test cuts): the picks API keeps answering published members from the Redis cache with the
 * class metadata it last loaded, no background reload leaves a promise rejection unhandled (one
 * would end `flywheel web` and `standalone`), each background loop warns once for the outage,
 * not once per tick, and everything works again once PostgreSQL is back.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { createRuntime, type Runtime } from '../../core/runtime.ts';
import type { MemberPicksView } from '../../daily-picks/picks-reader.ts';
import { seedSource } from '../../daily-picks/source/seed.ts';
import { closeWebApp, createWebApp, listen, webOptionsFromRuntime } from '../../web/server.ts';
import { REDIS_URL } from '../support/harness.ts';
import { day, PicksWorld, runSteps, stepContext } from '../support/picks.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { WEB_DAGS } from './web-support.ts';

const UNTIL = '2026-09-01';
/** The picks API's class metadata reload interval here (30 s by default): the outage lasts many of them. */
const CLASSES_REFRESH_MS = 200;
const OUTAGE_MS = 3000;

interface LogLine {
  level: number;
  msg: string;
}

describe('web app with PostgreSQL down', { timeout: 120_000 }, () => {
  let world: PicksWorld;
  let proxy: TcpProxy;
  let runtime: Runtime;
  let app: express.Express;
  let server: Server;
  let api: string;
  /** Published members: the first served before and through the outage, the rest after it (each one's first response is an impression to write). */
  let members: string[];
  let after: string[];
  const logLines: LogLine[] = [];
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  const picks = async (member: string) => {
    const res = await fetch(`${api}/members/${encodeURIComponent(member)}/picks`);
    return { status: res.status, body: (await res.json()) as MemberPicksView };
  };
  const logged = (text: string) => logLines.filter((line) => line.msg.includes(text));

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    world = await PicksWorld.create();
    await seedSource(world.pool, { members: 60, classes: 100, days: 20, seed: 11, until: day(UNTIL) });
    await runSteps(world, stepContext('run-outage', { start: day(UNTIL, -1), end: day(UNTIL) }));
    const published = (await world.query<{ member_id: string }>(`select distinct member_id from picks order by 1`)).map((r) => r.member_id);
    members = published.slice(0, 30);
    after = published.slice(30);
    expect(after.length).toBeGreaterThan(10);
    const target = new URL(world.databaseUrl);
    proxy = await TcpProxy.start({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
    // `flywheel web`'s runtime and app, with PostgreSQL behind the proxy (Redis is not cut).
    runtime = createRuntime(
      loadConfig({}, { databaseUrl: proxy.rewrite(world.databaseUrl), redisUrl: REDIS_URL, queuePrefix: world.prefix, dagsFolder: WEB_DAGS, logLevel: 'silent' }),
      { name: 'web' },
    );
    await runtime.redis.ping(); // connected: the picks API skips a Redis that is not ready yet
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as LogLine);
          callback();
        },
      }),
    );
    app = createWebApp({ ...webOptionsFromRuntime(runtime), logger, secretKey: 'test-secret-key-that-is-long-enough-0123456789', picksClassesRefreshMs: CLASSES_REFRESH_MS });
    server = await listen(app, 0, '127.0.0.1');
    api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  });
  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    proxy?.restore();
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    if (app) await closeWebApp(app);
    await runtime?.close();
    await proxy?.close();
    await world?.close();
  });

  it('serves cached picks through the outage without an unhandled rejection, warns once per loop, and recovers', async () => {
    const before = await picks(members[0]!);
    expect(before.status).toBe(200);
    expect(before.body.source).toBe('cache');
    const titled = (view: MemberPicksView) => view.rows.flatMap((row) => row.picks).every((pick) => pick.title !== null);
    expect(titled(before.body)).toBe(true);

    proxy.cut();
    const started = Date.now();
    let served = 0;
    // Many class metadata reload intervals and impression log flushes: each reload and each
    // flush fails. A new member each time, so that every response is an impression to write.
    for (let k = 1; Date.now() - started < OUTAGE_MS; k++) {
      const during = await picks(members[k % members.length]!);
      expect(during.status).toBe(200);
      expect(during.body.source).toBe('cache');
      // The last class metadata loaded keeps serving.
      expect(titled(during.body)).toBe(true);
      served++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(served).toBeGreaterThan(20);
    // PostgreSQL really is down for the app meanwhile.
    expect((await fetch(`${api}/health`)).status).toBe(500);
    expect(rejections).toEqual([]);
    expect(logged('reloading class metadata failed')).toHaveLength(1);
    expect(logged('impression log: a write failed')).toHaveLength(1);

    proxy.restore();
    expect((await fetch(`${api}/health`)).status).toBe(200);
    // The next request past the retry delay reloads the metadata; the next flush writes again.
    const deadline = Date.now() + 10_000;
    const servedAfter: string[] = [];
    while (logged('class metadata reloaded again').length === 0 || logged('impression log: writes succeed again').length === 0) {
      if (Date.now() > deadline || servedAfter.length === after.length) throw new Error(`no recovery logged: ${JSON.stringify(logLines.map((line) => line.msg))}`);
      const member = after[servedAfter.length]!;
      expect((await picks(member)).status).toBe(200);
      servedAfter.push(member);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // The impressions of what was served after the outage are in PostgreSQL.
    await closeWebApp(app);
    const written = await world.query<{ n: number }>(`select count(distinct member_id)::int as n from feedback.impression where member_id = any($1::text[])`, [servedAfter]);
    expect(written[0]!.n).toBeGreaterThan(0);
    expect(logged('reloading class metadata failed')).toHaveLength(1);
    expect(rejections).toEqual([]);
  });
});
