/**
 * Publish recovers what a crash or a Redis restart left: a retry of the current run refills a
 * lost cache; another run's abandoned staging table and partial cache are dropped by the next publish.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PicksCacheKeys } from '../../daily-picks/picks-cache.ts';
import { PicksFileWriter } from '../../daily-picks/picks-file.ts';
import { publishPicks } from '../../daily-picks/publish.ts';
import { PicksWorld } from '../support/picks.ts';

describe('publish recovery', { timeout: 60_000 }, () => {
  let world: PicksWorld;
  let keys: PicksCacheKeys;

  async function picksFor(runId: string, members: string[]) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'flywheel-recovery-'));
    const files = { picksFile: path.join(dir, 'picks.arrow'), dictionaryFile: path.join(dir, 'picks.json') };
    const writer = await PicksFileWriter.create(files.picksFile, files.dictionaryFile, ['c1', 'c2']);
    for (const member of members) {
      await writer.add(member, 'heuristics', 'heuristics', [{ row: 'ranked', picks: [{ classIdx: 0, score: 0.6, reason: 'r1' }, { classIdx: 1, score: 0.4, reason: 'r2' }] }]);
    }
    await writer.close({ generatedAt: new Date('2026-06-01T05:00:00Z'), runId, popularRows: [] });
    return files;
  }
  const publish = async (runId: string, files: { picksFile: string; dictionaryFile: string }) =>
    publishPicks(world.db, world.pool, world.redis, { dagId: 'daily_picks', runId, ...files, cachePrefix: world.prefix });

  beforeAll(async () => {
    world = await PicksWorld.create();
    keys = new PicksCacheKeys(world.prefix);
  });
  afterAll(async () => {
    await world?.close();
  });

  it('publishing the current run again refills a cache Redis lost', async () => {
    const files = await picksFor('run-a', ['m1', 'm2', 'm3']);
    const first = await publish('run-a', files);
    await world.redis.del(keys.members(first.publicationId), keys.meta(first.publicationId), keys.current);
    const again = await publish('run-a', files);
    expect(again).toMatchObject({ published: false, publicationId: first.publicationId });
    expect(await world.redis.hlen(keys.members(first.publicationId))).toBe(3);
    expect(await world.redis.get(keys.current)).toBe(String(first.publicationId));
    expect(JSON.parse((await world.redis.get(keys.meta(first.publicationId)))!)).toMatchObject({ runId: 'run-a', publicationId: first.publicationId });
  });

  it("the next publish drops another run's abandoned staging table and partial cache", async () => {
    // What a publish that crashed mid-load and was never retried leaves behind.
    const [abandoned] = await world.query<{ id: number }>(
      `insert into picks_publication (dag_id, run_id, model_version, generated_at, status, member_count, pick_count)
       values ('daily_picks', 'run-crashed', 'heuristics', now(), 'staged', 0, 0) returning id`,
    );
    await world.query(`create table picks_set_${abandoned!.id} as select * from picks limit 0`);
    await world.redis.hset(keys.members(abandoned!.id), 'm1', '{}');

    const result = await publish('run-b', await picksFor('run-b', ['m1', 'm4']));
    expect(result.published).toBe(true);
    const tables = await world.query<{ tablename: string }>(`select tablename from pg_tables where tablename = 'picks_set_' || $1`, [abandoned!.id]);
    expect(tables).toEqual([]);
    expect(await world.redis.exists(keys.members(abandoned!.id))).toBe(0);
    const members = await world.query<{ member_id: string }>('select distinct member_id from picks order by 1');
    expect(members.map((m) => m.member_id)).toEqual(['m1', 'm4']);
  });
});
