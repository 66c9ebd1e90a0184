/**
 * The `model_ignore_aware` variant against `model`: classes a member was shown on k days of the
 * window without converting them are discounted (score × γᵏ) or left out (k ≥ 3, and k ≥ 1 in
 * something_new) in that member's experiment rows — and only for members of that variant. A class
 * they converted, and impressions from before the window, change nothing.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { experiments } from '../../core/db/schema/experiment.ts';
import { variantOf, type Experiment } from '../../daily-picks/experiments/experiment.ts';
import { loadIgnoredPicks } from '../../daily-picks/feedback/ignored.ts';
import { readPicksByMember, readPicksDictionary } from '../../daily-picks/picks-file.ts';
import { seedSource } from '../../daily-picks/source/seed.ts';
import type { RowsResult } from '../../daily-picks/steps.ts';
import { writeIdOrderRanking } from '../fixtures/dags-picks/_ranker.ts';
import { day, PicksWorld, runSteps, stepContext } from '../support/picks.ts';

const UNTIL = '2026-06-01';
const EXPERIMENT: Experiment = {
  key: 'ignore-ab',
  variants: [
    { key: 'model', weight: 50 },
    { key: 'model_ignore_aware', weight: 50 },
  ],
  rows: ['for_your_usual', 'quick_workout', 'something_new'],
  startAt: day(UNTIL, -10),
  endAt: null,
  stoppedAt: null,
};

type Pick = { classId: string; score: number };

const daysOf = (byClass: Map<string, { days: number }>) => Object.fromEntries([...byClass].map(([classId, ignored]) => [classId, ignored.days]));
type Rows = Map<string, Pick[]>;

async function readRows(rows: RowsResult): Promise<Map<string, Rows>> {
  const dictionary = await readPicksDictionary(rows.dictionaryFile);
  const out = new Map<string, Rows>();
  for await (const group of readPicksByMember(rows.picksFile, dictionary)) {
    for (const member of group) out.set(member.memberId, new Map(member.rows.map((r) => [r.row, r.picks.map((p) => ({ classId: p.classId, score: p.score }))])));
  }
  return out;
}

describe('the ignore-aware variant', { timeout: 180_000 }, () => {
  let world: PicksWorld;
  const interval = { start: day(UNTIL, -1), end: day(UNTIL) };
  const model = (runId: string) => (extract: Parameters<typeof writeIdOrderRanking>[0]) => writeIdOrderRanking(extract, path.join(world.artifactsDir, `${runId}-ranking.arrow`));
  let before: Map<string, Rows>;
  let after: Map<string, Rows>;
  let rowsResult: RowsResult;
  /** Per member (one of each variant): the classes ignored 3 times, once, once in something_new, converted, and shown before the window. */
  const shown = new Map<string, { thrice: string; once: string; newOnce: string; converted: string; old: string; yesterday: string }>();

  async function impression(memberId: string, classId: string, row: string, position: number, daysBefore: number) {
    const servedAt = day(UNTIL, -daysBefore, 7);
    await world.query(
      `insert into feedback.impression (day, served_at, member_id, row, position, class_id, source) values ($1::date, $2, $3, $4, $5, $6, 'api')`,
      [servedAt.toISOString().slice(0, 10), servedAt, memberId, row, position, classId],
    );
  }

  beforeAll(async () => {
    world = await PicksWorld.create();
    await seedSource(world.pool, { members: 160, classes: 120, days: 30, seed: 7, until: day(UNTIL) });
    before = await readRows((await runSteps(world, stepContext('before', interval), { model: model('before'), publish: false })).rows);
    await world.db.insert(experiments).values({ ...EXPERIMENT, createdBy: 'test' });

    // One member of each variant whose rows have room to show the effects.
    for (const variant of ['model', 'model_ignore_aware']) {
      const [memberId, rows] = [...before].find(([id, r]) => variantOf(EXPERIMENT, id).key === variant && (r.get('for_your_usual')?.length ?? 0) >= 5 && (r.get('something_new')?.length ?? 0) >= 2)!;
      const usual = rows.get('for_your_usual')!.map((p) => p.classId);
      shown.set(memberId, { thrice: usual[0]!, once: usual[1]!, converted: usual[2]!, old: usual[3]!, yesterday: usual[4]!, newOnce: rows.get('something_new')![0]!.classId });
    }
    await world.query(`select feedback.ensure_partitions($1::date, $2::date)`, [day(UNTIL, -10).toISOString().slice(0, 10), day(UNTIL).toISOString().slice(0, 10)]);
    for (const [memberId, c] of shown) {
      for (const d of [1, 2, 3]) {
        await impression(memberId, c.thrice, 'for_your_usual', 1, d);
        await impression(memberId, c.converted, 'for_your_usual', 3, d);
      }
      // Twice on one day is one day ignored.
      await impression(memberId, c.once, 'for_your_usual', 2, 2);
      await impression(memberId, c.once, 'quick_workout', 1, 2);
      await impression(memberId, c.newOnce, 'something_new', 1, 1);
      // Ignored once, yesterday: it rests today (restDays 1).
      await impression(memberId, c.yesterday, 'for_your_usual', 5, 1);
      // Before the 7-day window: not counted.
      await impression(memberId, c.old, 'for_your_usual', 4, 9);
      const startedAt = day(UNTIL, -1, 9);
      await world.query(
        `insert into feedback.conversion (day, workout_id, member_id, class_id, started_at, served_at, row, position) values ($1::date, $2, $3, $4, $5, $6, 'for_your_usual', 3)`,
        [startedAt.toISOString().slice(0, 10), Math.floor(Math.random() * 1e9), memberId, c.converted, startedAt, day(UNTIL, -1, 7)],
      );
    }
    rowsResult = (await runSteps(world, stepContext('after', interval), { model: model('after') })).rows;
    after = await readRows(rowsResult);
  });
  afterAll(async () => {
    await world?.close();
  });

  it('counts distinct days shown without a conversion, within the window', async () => {
    const ignored = await loadIgnoredPicks(world.db, { until: day(UNTIL), windowDays: 7 });
    for (const [memberId, c] of shown) {
      expect(daysOf(ignored.get(memberId)!)).toEqual({ [c.thrice]: 3, [c.once]: 1, [c.newOnce]: 1, [c.yesterday]: 1 });
      expect(ignored.get(memberId)!.get(c.yesterday)!.lastShownAt).toBe(day(UNTIL, -1, 7).getTime());
    }
    const only = await loadIgnoredPicks(world.db, { until: day(UNTIL), windowDays: 2, members: [[...shown.keys()][0]!] });
    const [first, c] = [...shown][0]!;
    expect([...only.keys()]).toEqual([first]);
    expect(daysOf(only.get(first)!)).toEqual({ [c.thrice]: 2, [c.once]: 1, [c.newOnce]: 1, [c.yesterday]: 1 });
  });

  it('discounts and cools down ignored classes for model_ignore_aware members only', () => {
    for (const [memberId, c] of shown) {
      const variant = variantOf(EXPERIMENT, memberId).key;
      const was = before.get(memberId)!;
      const now = after.get(memberId)!;
      const ids = (rows: Rows, row: string) => (rows.get(row) ?? []).map((p) => p.classId);
      const scoreOf = (rows: Rows, row: string, classId: string) => rows.get(row)?.find((p) => p.classId === classId)?.score;
      // `ranked` is not an experiment row: as before for both.
      expect(now.get('ranked'), memberId).toEqual(was.get('ranked'));
      if (variant === 'model') {
        expect(now, memberId).toEqual(was);
        continue;
      }
      const named = ['for_your_usual', 'quick_workout', 'something_new'];
      // Ignored on 3 days: out of every experiment row.
      for (const row of named) expect(ids(now, row), row).not.toContain(c.thrice);
      // Ignored once: half the score (a lower place in the row, if it is still in it); out of something_new.
      const once = scoreOf(now, 'for_your_usual', c.once);
      if (once !== undefined) expect(once).toBeCloseTo(scoreOf(was, 'for_your_usual', c.once)! * 0.5, 6);
      expect(ids(now, 'for_your_usual').indexOf(c.once)).not.toBe(1);
      expect(ids(now, 'something_new')).not.toContain(c.newOnce);
      // Passed over yesterday: rests today, out of every row.
      for (const row of named) expect(ids(now, row), row).not.toContain(c.yesterday);
      // Converted, and shown only before the window: untouched and moved up past the ignored ones.
      expect(scoreOf(now, 'for_your_usual', c.converted)).toBe(scoreOf(was, 'for_your_usual', c.converted));
      expect(scoreOf(now, 'for_your_usual', c.old)).toBe(scoreOf(was, 'for_your_usual', c.old));
      expect(ids(now, 'for_your_usual').slice(0, 2)).toEqual([c.converted, c.old]);
      // Rows stay full: what was left out is replaced.
      for (const row of named) expect(now.get(row)?.length ?? 0, row).toBe(was.get(row)?.length ?? 0);
    }
    expect(new Set([...shown.keys()].map((m) => variantOf(EXPERIMENT, m).key))).toEqual(new Set(['model', 'model_ignore_aware']));
    const counts = rowsResult.experiments[0]!.variants;
    expect(counts.model! + counts.model_ignore_aware!).toBe(after.size);
  });
});
