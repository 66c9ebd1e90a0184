/**
 * The picks API's impression log on a real PostgreSQL and Redis: the named rows it serves (not
 * `ranked`) become impressions once per member and publication — with the publication, the model
 * version and the experiment variant of each row — a member's first row of an experiment an
 * exposure, once; the database path logs too; nothing is logged when logging is off.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PicksCacheKeys, type CachedMemberPicks } from '../../daily-picks/picks-cache.ts';
import type { MemberPicksView } from '../../daily-picks/picks-reader.ts';
import { errorHandler } from '../../web/http.ts';
import { picksRouter, type PicksApiOptions, type PicksRouter } from '../../web/picks-api.ts';
import { DAY_MS, day, insertSource, PicksWorld, publishedRows, runSteps, stepContext, type ClassSpec } from '../support/picks.ts';

const AS_OF = day('2026-05-01');
const SERVED_AT = new Date('2026-05-02T09:30:00.000Z');
const at = (daysBefore: number, hour = 7) => new Date(AS_OF.getTime() - daysBefore * DAY_MS + hour * 3_600_000);
const NAMED = ['for_your_usual', 'quick_workout', 'something_new'];

const CLASSES: ClassSpec[] = [
  ...Array.from({ length: 12 }, (_, i): ClassSpec => ({ id: `cyc${String(i).padStart(2, '0')}`, discipline: 'cycling', duration: 30, airedAt: day('2026-03-01', i) })),
  ...Array.from({ length: 6 }, (_, i): ClassSpec => ({ id: `str${i}`, discipline: 'strength', duration: 10, airedAt: day('2026-03-05', i) })),
  ...Array.from({ length: 6 }, (_, i): ClassSpec => ({ id: `yoga${i}`, discipline: 'yoga', duration: 45, airedAt: day('2026-03-10', i) })),
];
const MEMBERS = ['a', 'b', 'c', 'd', 'e'];

interface Api {
  url: string;
  router: PicksRouter;
  close: () => Promise<void>;
}

describe('impressions logged by the picks API', { timeout: 120_000 }, () => {
  let world: PicksWorld;
  let publicationId: number;
  const apis: Api[] = [];

  async function startApi(options: Partial<PicksApiOptions> = {}): Promise<Api> {
    const router = picksRouter({ db: world.db, redis: world.redis, cachePrefix: world.prefix, clock: () => SERVED_AT, ...options });
    const app = express();
    app.use('/api/v1', router);
    app.use(errorHandler(() => undefined));
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const api = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`,
      router,
      close: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await router.impressionLog?.close();
      },
    };
    apis.push(api);
    return api;
  }
  const get = async (api: Api, memberId: string, query = '') => {
    const res = await fetch(`${api.url}/members/${encodeURIComponent(memberId)}/picks${query}`);
    expect(res.status).toBe(200);
    return (await res.json()) as MemberPicksView;
  };
  const impressions = (memberId: string) =>
    world.query<{ day: string; served_at: Date; row: string; position: number; class_id: string; publication_id: number | null; model_version: string; experiment_key: string | null; variant: string | null; source: string }>(
      `select to_char(day, 'YYYY-MM-DD') as day, served_at, row, position, class_id, publication_id, model_version, experiment_key, variant, source
       from feedback.impression where member_id = $1 order by row, position`,
      [memberId],
    );
  const exposures = (memberId: string) =>
    world.query<{ experiment_key: string; variant: string; exposed_at: Date; publication_id: number | null }>('select experiment_key, variant, exposed_at, publication_id from feedback.exposure where member_id = $1', [memberId]);

  /** What the API should have logged for a member: every pick of the named rows published. */
  async function expected(memberId: string, experiment: Record<string, { key: string; variant: string }> = {}) {
    const rows = await publishedRows(world, memberId);
    return NAMED.flatMap((row) =>
      (rows.get(row) ?? []).map((pick, i) => ({
        day: '2026-05-02',
        served_at: SERVED_AT,
        row,
        position: i + 1,
        class_id: pick.classId,
        publication_id: publicationId,
        model_version: pick.modelVersion,
        experiment_key: experiment[row]?.key ?? null,
        variant: experiment[row]?.variant ?? null,
        source: 'api',
      })),
    ).sort((x, y) => x.row.localeCompare(y.row) || x.position - y.position);
  }

  beforeAll(async () => {
    world = await PicksWorld.create();
    await insertSource(world, {
      classes: CLASSES,
      members: MEMBERS.map((id) => ({ id })),
      workouts: MEMBERS.flatMap((member, m) => [0, 1, 2, 3].map((i) => ({ member, cls: `cyc0${(i + m) % 10}`, at: at(10 - i) }))),
    });
    const result = await runSteps(world, stepContext('run_impressions', { start: day('2026-04-30'), end: AS_OF }, { rowSize: 4, rankedSize: 12 }));
    publicationId = result.publish!.publicationId;
    // Member `a`'s for_your_usual row was ranked by an experiment's variant (as publish caches it).
    const keys = new PicksCacheKeys(world.prefix);
    const cached = JSON.parse((await world.redis.hget(keys.members(publicationId), 'a'))!) as CachedMemberPicks;
    cached.rows = cached.rows.map((row) => (row.row === 'for_your_usual' ? { row: row.row, picks: row.picks, experiment: { key: 'usual-ab', variant: 'model' } } : row));
    await world.redis.hset(keys.members(publicationId), 'a', JSON.stringify(cached));
    // Member `e`'s ranked row was (an experiment may cover `ranked` too).
    const e = JSON.parse((await world.redis.hget(keys.members(publicationId), 'e'))!) as CachedMemberPicks;
    e.rows = e.rows.map((row) => (row.row === 'ranked' ? { row: row.row, picks: row.picks, experiment: { key: 'ranked-ab', variant: 'heuristics' } } : row));
    await world.redis.hset(keys.members(publicationId), 'e', JSON.stringify(e));
  });
  afterAll(async () => {
    for (const api of apis) await api.close();
    await world?.close();
  });

  it('logs the named rows served once per member and publication, with the variant, and the exposure once', async () => {
    const api = await startApi();
    const first = await get(api, 'a');
    expect(first.source).toBe('cache');
    expect(first.rows.find((r) => r.row === 'for_your_usual')?.experiment).toEqual({ key: 'usual-ab', variant: 'model' });
    await get(api, 'a');
    await get(api, 'a', '?rows=quick_workout,ranked');
    await api.router.impressionLog!.flush();
    const logged = await impressions('a');
    expect(logged.length).toBeGreaterThan(4);
    expect(logged).toEqual(await expected('a', { for_your_usual: { key: 'usual-ab', variant: 'model' } }));
    expect(await exposures('a')).toEqual([{ experiment_key: 'usual-ab', variant: 'model', exposed_at: SERVED_AT, publication_id: publicationId }]);
    expect(api.router.impressionLog!.stats).toMatchObject({ served: 3, deduped: 2, logged: 1, impressions: logged.length, exposures: 1, failed: 0, dropped: 0 });

    // Another server (a restart, a second web process) logs the member again: the keys keep the rows once.
    const other = await startApi();
    await get(other, 'a');
    await other.router.impressionLog!.close();
    expect(other.router.impressionLog!.stats).toMatchObject({ logged: 1, impressions: 0, exposures: 0, failed: 0 });
    expect(await impressions('a')).toEqual(logged);
    expect(await exposures('a')).toHaveLength(1);
  });

  it('logs the rows a request asked for, then the others when a later request shows them; ranked alone logs nothing', async () => {
    const api = await startApi();
    await get(api, 'b', '?rows=ranked');
    await api.router.impressionLog!.flush();
    expect(await impressions('b')).toEqual([]);
    await get(api, 'b', '?rows=quick_workout');
    await api.router.impressionLog!.flush();
    expect(new Set((await impressions('b')).map((r) => r.row))).toEqual(new Set(['quick_workout']));
    await get(api, 'b');
    await api.router.impressionLog!.flush();
    expect(await impressions('b')).toEqual(await expected('b'));
  });

  it('logs an exposure to an experiment on the ranked row once the ranked row is served, and no impressions of it', async () => {
    const api = await startApi();
    await get(api, 'e', '?rows=for_your_usual');
    await api.router.impressionLog!.flush();
    expect(await exposures('e')).toEqual([]);
    expect(new Set((await impressions('e')).map((r) => r.row))).toEqual(new Set(['for_your_usual']));
    await get(api, 'e', '?rows=ranked,quick_workout');
    await api.router.impressionLog!.flush();
    expect(await exposures('e')).toEqual([{ experiment_key: 'ranked-ab', variant: 'heuristics', exposed_at: SERVED_AT, publication_id: publicationId }]);
    expect(new Set((await impressions('e')).map((r) => r.row))).toEqual(new Set(['for_your_usual', 'quick_workout']));
  });

  it('logs responses read from PostgreSQL, with the set’s publication and variant', async () => {
    // The variant of c's quick_workout row, in the published set; then the cache pointer goes.
    await world.query(`update picks set experiment_key = 'quick-ab', variant = 'heuristics' where member_id = 'c' and row = 'quick_workout'`);
    await world.redis.del(new PicksCacheKeys(world.prefix).current);
    const api = await startApi();
    const view = await get(api, 'c');
    expect(view.source).toBe('database');
    expect(view.rows.find((r) => r.row === 'quick_workout')?.experiment).toEqual({ key: 'quick-ab', variant: 'heuristics' });
    await api.router.impressionLog!.flush();
    expect(await impressions('c')).toEqual(await expected('c', { quick_workout: { key: 'quick-ab', variant: 'heuristics' } }));
    expect(await exposures('c')).toEqual([{ experiment_key: 'quick-ab', variant: 'heuristics', exposed_at: SERVED_AT, publication_id: publicationId }]);
  });

  it('logs nothing when impression logging is off', async () => {
    const api = await startApi({ impressionLogging: false });
    expect(api.router.impressionLog).toBeNull();
    await get(api, 'd');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await impressions('d')).toEqual([]);
  });

  it('remembers members per publication and day: a fallback path does not wipe the cache path’s memory; a new day logs again', async () => {
    const { ImpressionLog } = await import('../../daily-picks/feedback/impression-log.ts');
    let now = SERVED_AT;
    const log = new ImpressionLog({ db: world.db, clock: () => now });
    const view: MemberPicksView = { memberId: 'y1', source: 'popular', modelVersion: 'popularity', generatedAt: null, rows: [{ row: 'quick_workout', picks: [{ classId: 'str1', title: null, discipline: null, durationMin: null, instructor: null, score: 1, reason: 'r' }] }] };
    log.served('y1', publicationId, view);
    log.served('y1', null, view);
    log.served('y1', publicationId, view);
    log.served('y1', null, view);
    expect(log.stats).toMatchObject({ served: 4, deduped: 2 });
    now = new Date(SERVED_AT.getTime() + DAY_MS);
    log.served('y1', publicationId, view);
    expect(log.stats).toMatchObject({ served: 5, deduped: 2 });
    await log.close();
    expect((await impressions('y1')).map((r) => r.day)).toEqual(['2026-05-02', '2026-05-03']);
  });

  it('writes on its own after flushMs, and never fails a response when the write fails', async () => {
    const { ImpressionLog } = await import('../../daily-picks/feedback/impression-log.ts');
    const errors: unknown[] = [];
    const log = new ImpressionLog({ db: world.db, clock: () => SERVED_AT, flushMs: 20, onError: (error) => errors.push(error) });
    const view: MemberPicksView = { memberId: 'x1', source: 'popular', modelVersion: 'popularity', generatedAt: null, rows: [{ row: 'for_your_usual', picks: [{ classId: 'cyc01', title: null, discipline: null, durationMin: null, instructor: null, score: 1, reason: 'r' }] }] };
    log.served('x1', publicationId, view);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await impressions('x1')).map((r) => [r.row, r.position, r.class_id, r.model_version])).toEqual([['for_your_usual', 1, 'cyc01', 'popularity']]);
    // A value that is not JSON fails its write: counted and reported, not thrown.
    log.served('x2', publicationId, Buffer.from('not json'));
    await log.close();
    expect(log.stats).toMatchObject({ served: 2, logged: 1, failed: 1 });
    expect(errors).toHaveLength(1);
    log.served('x3', publicationId, view);
    expect(log.stats.dropped).toBe(1);
  });
});
