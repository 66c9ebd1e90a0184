/**
 * A re-import that keeps a day's row count and workout ids (`--replace` restarts the ids) but
 * changes its content is still noticed: the day's checksum differs, so it is extracted again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalogue } from '../../model/data/catalogue.ts';
import { extractHistory } from '../../daily-picks/extract.ts';
import { History } from '../../model/data/history.ts';
import { ArtifactPaths } from '../../daily-picks/paths.ts';
import { day, insertSource, insertWorkouts, PicksWorld } from '../support/picks.ts';

const D0 = '2026-05-01';
const D1 = '2026-05-02';

describe('extract checksum', { timeout: 60_000 }, () => {
  let world: PicksWorld;
  let paths: ArtifactPaths;
  const extract = (runId: string) => extractHistory(world.db, world.pool, { paths, runId, interval: { start: day(D1), end: day(D1, 1) }, historyWindowDays: null });

  beforeAll(async () => {
    world = await PicksWorld.create();
    paths = new ArtifactPaths(world.artifactsDir, 'daily_picks');
    await insertSource(world, {
      instructors: ['X'],
      classes: ['c1', 'c2'].map((id) => ({ id, discipline: 'cycling', duration: 20, instructor: 'X', airedAt: day('2026-04-01') })),
      members: [{ id: 'm1' }, { id: 'm2' }],
      workouts: [
        { member: 'm1', cls: 'c1', at: day(D0, 0, 7) },
        { member: 'm2', cls: 'c1', at: day(D0, 0, 8) },
        { member: 'm1', cls: 'c2', at: day(D1, 0, 7) },
      ],
    });
  });
  afterAll(async () => {
    await world?.close();
  });

  it('same count and ids, other content: the old day is read again', async () => {
    expect(await extract('run1')).toMatchObject({ daysExtracted: 2, daysUnchanged: 0 });
    expect(await extract('run1-again')).toMatchObject({ daysExtracted: 1, daysUnchanged: 1 });

    // What `import interactions --replace` does: empty the table, restart the ids, load again.
    await world.query('truncate source.workout restart identity');
    await insertWorkouts(world, [
      { member: 'm1', cls: 'c2', at: day(D0, 0, 7) },
      { member: 'm2', cls: 'c2', at: day(D0, 0, 8) },
      { member: 'm1', cls: 'c2', at: day(D1, 0, 7) },
    ]);
    const result = await extract('run2');
    expect(result).toMatchObject({ daysExtracted: 2, daysUnchanged: 0, historyRows: 3 });

    const catalogue = await Catalogue.load(result.classesFile);
    const history = await History.load(catalogue, { workoutsDir: result.workoutsDir, membersFile: result.membersFile, asOf: new Date(result.asOf), historyWindowDays: null });
    const classesTaken = [...history.classIdx].map((c) => catalogue.classIds[c]);
    expect(classesTaken).toEqual(['c2', 'c2', 'c2']);
  });
});
