/**
 * Incremental extract against a real PostgreSQL: one Arrow partition per UTC day, only new or
 * changed days rewritten, late data re-extracted, deleted days removed; and `History.load`
 * reading back exactly the source's workouts before the as-of time.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalogue } from '../../model/data/catalogue.ts';
import { extractHistory, type ExtractResult } from '../../daily-picks/extract.ts';
import { History } from '../../model/data/history.ts';
import { ArtifactPaths } from '../../daily-picks/paths.ts';
import { profileOf } from '../../model/data/profiles.ts';
import { day, insertSource, insertWorkouts, PicksWorld, publishedRows, runSteps, stepContext, type WorkoutSpec } from '../support/picks.ts';

const D0 = '2026-03-01';
const D1 = '2026-03-02';
const D2 = '2026-03-03';
const D3 = '2026-03-04';
const MEMBERS = ['m1', 'm2', 'm3', 'm4'];
const CLASSES = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];

/** Workouts of every member on `iso`, at hours 6.. (one class each, rotating). */
function dayOfWorkouts(iso: string, perMember: number, shift = 0): WorkoutSpec[] {
  return MEMBERS.flatMap((member, m) =>
    Array.from({ length: perMember }, (_, k): WorkoutSpec => ({ member, cls: CLASSES[(m + k + shift) % CLASSES.length]!, at: day(iso, 0, 6 + k * 3 + m * 0.25) })),
  );
}

describe('incremental extract', { timeout: 60_000 }, () => {
  let world: PicksWorld;
  let paths: ArtifactPaths;
  const extract = (runId: string, start: string, historyWindowDays: number | null = null) =>
    extractHistory(world.db, world.pool, { paths, runId, interval: { start: day(start), end: day(start, 1) }, historyWindowDays, fetchSize: 3 });
  const mtime = (iso: string) => statSync(paths.workoutPartition(iso)).mtimeMs;
  const manifestDays = async () => Object.keys(JSON.parse(await readFile(paths.workoutsManifest, 'utf8')) as Record<string, unknown>).sort();

  /** SQL's view: each member's class ids in time order, before `asOf`. */
  async function sourceSequences(asOf: Date, from: Date | null = null): Promise<Record<string, string[]>> {
    const rows = await world.query<{ member_id: string; classes: string[] }>(
      `select member_id, array_agg(class_id order by started_at, workout_id) as classes from source.workout
       where started_at < $1 and ($2::timestamptz is null or started_at >= $2) group by member_id order by member_id`,
      [asOf, from],
    );
    return Object.fromEntries(rows.map((r) => [r.member_id, r.classes]));
  }

  /** History's view of the same, from the partitions on disk. */
  async function historySequences(result: ExtractResult, historyWindowDays: number | null = null): Promise<{ history: History; catalogue: Catalogue; sequences: Record<string, string[]> }> {
    const catalogue = await Catalogue.load(result.classesFile);
    const history = await History.load(catalogue, { workoutsDir: result.workoutsDir, membersFile: result.membersFile, asOf: new Date(result.asOf), historyWindowDays });
    const sequences: Record<string, string[]> = {};
    for (let m = 0; m < history.memberCount; m++) {
      const { start, end } = history.workoutsOf(m);
      if (end === start) continue;
      sequences[history.memberIds[m]!] = [...history.classIdx.subarray(start, end)].map((c) => catalogue.classIds[c]!);
      // Time order within the member.
      const times = [...history.startedAt.subarray(start, end)];
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    return { history, catalogue, sequences };
  }

  beforeAll(async () => {
    world = await PicksWorld.create();
    paths = new ArtifactPaths(world.artifactsDir, 'daily_picks');
    await insertSource(world, {
      instructors: ['X', 'Y'],
      classes: CLASSES.map((id, i) => ({ id, discipline: i % 2 ? 'yoga' : 'cycling', duration: 10 + i * 5, instructor: i % 2 ? 'Y' : 'X', airedAt: day('2026-02-01') })),
      members: MEMBERS.map((id) => ({ id })),
      workouts: [...dayOfWorkouts(D0, 2), ...dayOfWorkouts(D1, 3)],
    });
  });
  afterAll(async () => {
    await world?.close();
  });

  it('first run: every day before the as-of time is extracted, one Arrow file per day', async () => {
    const result = await extract('run1', D1);
    expect(result).toMatchObject({ asOf: day(D1, 1).toISOString(), daysExtracted: 2, daysUnchanged: 0, daysRemoved: 0, rowsExtracted: 4 * 2 + 4 * 3, historyRows: 20, classes: 6, members: 4 });
    expect(await manifestDays()).toEqual([D0, D1]);
    expect(existsSync(paths.workoutPartition(D0)) && existsSync(paths.workoutPartition(D1))).toBe(true);
    expect((await historySequences(result)).sequences).toEqual(await sourceSequences(day(D1, 1)));
  });

  it('next interval: only the new day is written; older partitions keep their files', async () => {
    const before = { d0: mtime(D0), d1: mtime(D1) };
    await insertWorkouts(world, dayOfWorkouts(D2, 1, 2));
    // A workout after the as-of time is not history yet.
    await insertWorkouts(world, [{ member: 'm1', cls: 'c1', at: day(D3, 0, 1) }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const result = await extract('run2', D2);
    expect(result).toMatchObject({ daysExtracted: 1, daysUnchanged: 2, daysRemoved: 0, rowsExtracted: 4, historyRows: 24 });
    expect({ d0: mtime(D0), d1: mtime(D1) }).toEqual(before);
    expect(await manifestDays()).toEqual([D0, D1, D2]);
    const { sequences, history } = await historySequences(result);
    expect(sequences).toEqual(await sourceSequences(day(D2, 1)));
    expect(history.workoutCount).toBe(24);
  });

  it('re-running the same interval re-reads its days only', async () => {
    const before = { d0: mtime(D0), d1: mtime(D1) };
    const result = await extract('run2-again', D2);
    expect(result).toMatchObject({ daysExtracted: 1, daysUnchanged: 2, daysRemoved: 0, rowsExtracted: 4 });
    expect({ d0: mtime(D0), d1: mtime(D1) }).toEqual(before);
  });

  it('late data in an old day re-extracts that day; a day gone from the source is removed', async () => {
    const d2Before = mtime(D2);
    const d0Before = mtime(D0);
    // A late workout for D0 (a higher workout id, one more row) and D1 deleted at the source.
    await insertWorkouts(world, [{ member: 'm3', cls: 'c6', at: day(D0, 0, 23) }, { member: 'late-only', cls: 'c2', at: day(D0, 0, 22) }]);
    await world.pool.query(`delete from source.workout where started_at >= $1 and started_at < $2`, [day(D1), day(D2)]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const result = await extract('run3', D3);
    // D0 (changed) and D3 (the interval, one workout at 01:00) written; D2 unchanged; D1 removed.
    expect(result).toMatchObject({ daysExtracted: 2, daysUnchanged: 1, daysRemoved: 1, rowsExtracted: 8 + 2 + 1, historyRows: 8 + 2 + 4 + 1 });
    expect(mtime(D2)).toBe(d2Before);
    expect(mtime(D0)).not.toBe(d0Before);
    expect(existsSync(paths.workoutPartition(D1))).toBe(false);
    expect(await manifestDays()).toEqual([D0, D2, D3]);
    const { sequences, history } = await historySequences(result);
    expect(sequences).toEqual(await sourceSequences(day(D3, 1)));
    // A member known only from workouts (an imported interaction) is a member too.
    expect(history.memberIndex.has('late-only')).toBe(true);
    expect(sequences['late-only']).toEqual(['c2']);
  });

  it('a changed day with the same row count is re-extracted (its highest workout id moved)', async () => {
    const d2Before = mtime(D2);
    const d0Before = mtime(D0);
    const [victim] = await world.query<{ workout_id: number }>(`select workout_id from source.workout where started_at >= $1 and started_at < $2 order by workout_id limit 1`, [day(D2), day(D3)]);
    await world.pool.query('delete from source.workout where workout_id = $1', [victim!.workout_id]);
    await insertWorkouts(world, [{ member: 'm4', cls: 'c5', at: day(D2, 0, 20) }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const result = await extract('run4', D3);
    expect(result).toMatchObject({ daysExtracted: 2, daysUnchanged: 1, daysRemoved: 0 });
    expect(mtime(D2)).not.toBe(d2Before);
    expect(mtime(D0)).toBe(d0Before);
    expect((await historySequences(result)).sequences).toEqual(await sourceSequences(day(D3, 1)));
  });

  it('the profiles History feeds match the source (counts per member, last activity)', async () => {
    const result = await extract('run5', D3);
    const { history, catalogue } = await historySequences(result);
    const rows = await world.query<{ member_id: string; n: number; last_ms: number }>(
      `select member_id, count(*)::int as n, (extract(epoch from max(started_at)) * 1000)::float8 as last_ms from source.workout where started_at < $1 group by member_id`,
      [day(D3, 1)],
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      const m = history.memberIndex.get(r.member_id)!;
      expect(profileOf(catalogue, history, m).workouts, r.member_id).toBe(r.n);
      expect(history.lastActive(m), r.member_id).toBe(Number(r.last_ms));
    }
  });

  it('an older interval run again (a backfill or a cleared past run) leaves the later days\' partitions alone', async () => {
    const later = { d2: mtime(D2), d3: mtime(D3) };
    // The run for D0 reads history before D1: D2 and D3 are after its as-of time, not gone from the source.
    const older = await extract('run-backfill', D0);
    expect(older).toMatchObject({ asOf: day(D1).toISOString(), daysExtracted: 1, daysRemoved: 0, historyRows: 10 });
    expect((await historySequences(older)).sequences).toEqual(await sourceSequences(day(D1)));
    expect({ d2: mtime(D2), d3: mtime(D3) }).toEqual(later);
    expect(await manifestDays()).toEqual([D0, D2, D3]);
    // So the next regular run has nothing to catch up on.
    const next = await extract('run-next', D3);
    expect(next).toMatchObject({ daysExtracted: 1, daysUnchanged: 2, daysRemoved: 0 });
    expect((await historySequences(next)).sequences).toEqual(await sourceSequences(day(D3, 1)));
  });

  it('a history window keeps only its days: older partitions are dropped and History stops at the window', async () => {
    const result = await extract('run6', D3, 2);
    // Window [D2, D4): D0 leaves the manifest and the disk.
    expect(result.daysRemoved).toBe(1);
    expect(existsSync(paths.workoutPartition(D0))).toBe(false);
    expect(await manifestDays()).toEqual([D2, D3]);
    const { sequences } = await historySequences(result, 2);
    expect(sequences).toEqual(await sourceSequences(day(D3, 1), day(D2)));
  });
});

describe('a platform without workouts yet', { timeout: 60_000 }, () => {
  it('extracts an empty history (manifest written, nothing to read) and publishes popular rows for every member', async () => {
    const world = await PicksWorld.create();
    try {
      await insertSource(world, {
        instructors: ['X'],
        classes: [
          { id: 'ride', discipline: 'cycling', duration: 30, instructor: 'X', airedAt: day('2026-04-01') },
          { id: 'core', discipline: 'strength', duration: 10, instructor: 'X', airedAt: day('2026-04-02') },
        ],
        members: [{ id: 'first' }, { id: 'second' }],
      });
      const { extract, rows, publish } = await runSteps(world, stepContext('run_empty', { start: day('2026-04-30'), end: day('2026-05-01') }));
      expect(extract).toMatchObject({ daysExtracted: 0, daysUnchanged: 0, daysRemoved: 0, rowsExtracted: 0, historyRows: 0, classes: 2, members: 2 });
      expect(JSON.parse(await readFile(new ArtifactPaths(world.artifactsDir).workoutsManifest, 'utf8'))).toEqual({});
      expect(rows.sources).toEqual({ model: 0, ease: 0, baseline: 0, heuristics: 0, popularity: 2 });
      expect(publish).toMatchObject({ published: true, members: 2, modelVersion: 'popularity' });
      const quick = (await publishedRows(world, 'first')).get('quick_workout');
      expect(quick?.map((p) => p.classId)).toEqual(['core']);
    } finally {
      await world.close();
    }
  });
});

describe('intervals that end mid-day (the real schedule: 05:00 UTC)', { timeout: 60_000 }, () => {
  it('running an older interval again does not cut short a day that a later run reads', async () => {
    const world = await PicksWorld.create();
    try {
      const paths = new ArtifactPaths(world.artifactsDir);
      await insertSource(world, {
        classes: [{ id: 'c1' }, { id: 'c2' }],
        members: [{ id: 'm1' }],
        // Every 3 hours from D0 00:00 to D3 21:00.
        workouts: Array.from({ length: 32 }, (_, i) => ({ member: 'm1', cls: i % 2 ? 'c1' : 'c2', at: day('2026-03-01', 0, i * 3) })),
      });
      const extract = (runId: string, start: Date) => extractHistory(world.db, world.pool, { paths, runId, interval: { start, end: new Date(start.getTime() + 86_400_000) }, historyWindowDays: null });
      const history = async (result: ExtractResult) => {
        const catalogue = await Catalogue.load(result.classesFile);
        return History.load(catalogue, { workoutsDir: result.workoutsDir, membersFile: result.membersFile, asOf: new Date(result.asOf), historyWindowDays: null });
      };
      // The latest run: as of D3 05:00, 26 workouts before it (D0–D2: 24, D3 00:00 and 03:00).
      const latest = await extract('latest', day('2026-03-03', 0, 5));
      expect(latest.historyRows).toBe(26);
      expect((await history(latest)).workoutCount).toBe(26);
      // The run before it, run again (cleared or backfilled): as of D2 05:00.
      const older = await extract('older', day('2026-03-02', 0, 5));
      expect((await history(older)).workoutCount).toBe(18);
      // The latest run's tasks (a retry of heuristics or filter_rows) still read its whole history.
      expect((await history(latest)).workoutCount).toBe(26);
    } finally {
      await world.close();
    }
  });
});
