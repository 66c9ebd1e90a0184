/**
 * Publish streams picks in with COPY's text format: ids and reasons with backslashes, tabs,
 * newlines and quotes arrive in the `picks` table and the cache exactly as written.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PicksCacheKeys, type CachedMemberPicks } from '../../daily-picks/picks-cache.ts';
import { PicksFileWriter } from '../../daily-picks/picks-file.ts';
import { publishPicks } from '../../daily-picks/publish.ts';
import { PicksWorld } from '../support/picks.ts';

const AWKWARD = ['back\\slash', 'tab\there', 'new\nline', 'carriage\rreturn', 'quote"s and \'apostrophes\'', 'ünïcødé ✓', '\\N'];

describe('publish via COPY', { timeout: 60_000 }, () => {
  let world: PicksWorld;

  beforeAll(async () => {
    world = await PicksWorld.create();
  });
  afterAll(async () => {
    await world?.close();
  });

  it('keeps every character of member ids, class ids and reasons', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'flywheel-copy-'));
    const classIds = AWKWARD.map((text) => `class ${text}`);
    const writer = await PicksFileWriter.create(path.join(dir, 'picks.arrow'), path.join(dir, 'picks.json'), classIds);
    for (const [i, text] of AWKWARD.entries()) {
      await writer.add(`member ${text}`, 'heuristics', 'heuristics', [
        { row: 'ranked', picks: classIds.map((_, c) => ({ classIdx: c, score: 1 / (c + 1), reason: `because ${text} #${i}` })) },
      ]);
    }
    await writer.close({ generatedAt: new Date('2026-05-01T05:00:00Z'), runId: 'run\twith\\odd id', popularRows: [] });

    const result = await publishPicks(world.db, world.pool, world.redis, {
      dagId: 'daily_picks',
      runId: 'run\twith\\odd id',
      picksFile: path.join(dir, 'picks.arrow'),
      dictionaryFile: path.join(dir, 'picks.json'),
      cachePrefix: world.prefix,
    });
    expect(result).toMatchObject({ published: true, members: AWKWARD.length, picks: AWKWARD.length * classIds.length });

    const rows = await world.query<{ member_id: string; position: number; class_id: string; reason: string; run_id: string; score: number }>(
      'select member_id, position, class_id, reason, run_id, score from picks order by member_id, position',
    );
    const expected = AWKWARD.flatMap((text, i) => classIds.map((classId, c) => ({ member_id: `member ${text}`, position: c + 1, class_id: classId, reason: `because ${text} #${i}`, run_id: 'run\twith\\odd id' })))
      .sort((a, b) => (a.member_id < b.member_id ? -1 : a.member_id > b.member_id ? 1 : a.position - b.position));
    expect(rows.map(({ score: _score, ...rest }) => rest)).toEqual(expected);
    expect(rows.find((r) => r.position === 2)?.score).toBeCloseTo(0.5, 6);

    const cached = await world.redis.hget(new PicksCacheKeys(world.prefix).members(result.publicationId), 'member tab\there');
    const parsed = JSON.parse(cached!) as CachedMemberPicks;
    expect(parsed.rows[0]!.picks[0]).toEqual([classIds[0], 1, 'because tab\there #1']);
  });
});
