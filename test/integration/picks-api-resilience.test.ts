/**
 * The picks API keeps answering when Redis is down (from PostgreSQL, without waiting for
 * Redis), and accepts any source id the import accepts (spaces included, URL-encoded).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSource } from '../../daily-picks/source/seed.ts';
import { errorHandler } from '../../web/http.ts';
import { picksRouter } from '../../web/picks-api.ts';
import { day, PicksWorld, runSteps, stepContext } from '../support/picks.ts';

const UNTIL = '2026-09-01';

describe('picks API resilience', { timeout: 120_000 }, () => {
  let world: PicksWorld;
  let server: Server;
  let deadRedis: Redis;
  let url: string;
  let member: string;

  beforeAll(async () => {
    world = await PicksWorld.create();
    await seedSource(world.pool, { members: 60, classes: 100, days: 20, seed: 9, until: day(UNTIL) });
    await world.query(`insert into source.member (member_id) values (' 015 ')`);
    await runSteps(world, stepContext('run-resilience', { start: day(UNTIL, -1), end: day(UNTIL) }));
    member = (await world.query<{ member_id: string }>(`select member_id from picks where model_version = 'heuristics' order by 1 limit 1`))[0]!.member_id;
    // Nothing listens on this port: the client keeps reconnecting, as with a Redis that went away.
    deadRedis = new Redis('redis://127.0.0.1:6399', { maxRetriesPerRequest: null, retryStrategy: () => 200 });
    deadRedis.on('error', () => undefined);
    const app = express();
    app.use('/api/v1', picksRouter({ db: world.db, redis: deadRedis, cachePrefix: world.prefix }));
    app.use(errorHandler(() => undefined));
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    deadRedis?.disconnect();
    await world?.close();
  });

  it('with Redis down, a published member is served from PostgreSQL at once', async () => {
    const started = performance.now();
    const res = await fetch(`${url}/members/${encodeURIComponent(member)}/picks`);
    const elapsed = performance.now() - started;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { source: string; rows: { row: string; picks: unknown[] }[] };
    expect(body.source).toBe('database');
    expect(body.rows.find((r) => r.row === 'ranked')!.picks.length).toBeGreaterThan(0);
    // Not a Redis timeout or an endless wait: well under a second.
    expect(elapsed).toBeLessThan(1000);
  });

  it('an id with spaces (as imported) is a valid id', async () => {
    const res = await fetch(`${url}/members/${encodeURIComponent(' 015 ')}/picks`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { memberId: string; source: string };
    expect(body.memberId).toBe(' 015 ');
    // A member without workouts in the published set gets popular rows.
    expect(body.source).toBe('database');
  });

  it('an empty id is a 400, not an unknown endpoint', async () => {
    const res = await fetch(`${url}/members//picks`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('memberId: is empty');
  });
});
