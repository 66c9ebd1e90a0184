/**
 * A live experiment in the daily run (the pipeline's steps, without the scheduler): each member's
 * experiment rows come from their variant's ranking and carry the variant everywhere the picks
 * go (the picks file, the `picks` table, the cache, the API body); their other rows are the ones
 * they would get without the experiment; the assignment is the same on the next day's run.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { experiments } from '../../core/db/schema/experiment.ts';
import { variantOf, type Experiment } from '../../daily-picks/experiments/experiment.ts';
import { PicksCacheKeys, type CachedMemberPicks } from '../../daily-picks/picks-cache.ts';
import { readPicksByMember, readPicksDictionary } from '../../daily-picks/picks-file.ts';
import { PicksReader } from '../../daily-picks/picks-reader.ts';
import { seedSource } from '../../daily-picks/source/seed.ts';
import type { RowsResult } from '../../daily-picks/steps.ts';
import { ID_ORDER_MODEL, writeIdOrderRanking } from '../fixtures/dags-picks/_ranker.ts';
import { day, PicksWorld, runSteps, stepContext } from '../support/picks.ts';

const UNTIL = '2026-06-01';
const EXPERIMENT: Experiment = {
  key: 'picks-ab',
  variants: [
    { key: 'heuristics', weight: 50 },
    { key: 'model', weight: 50 },
  ],
  rows: ['for_your_usual', 'quick_workout', 'something_new'],
  startAt: day(UNTIL, -10),
  endAt: null,
  stoppedAt: null,
};
const NAMED = new Set(EXPERIMENT.rows);

/** A member's rows as comparable data: row → [class, score, reason] per pick. */
type Rows = Map<string, { picks: [string, number, string][]; experiment?: { key: string; variant: string } }>;

async function readRows(rows: RowsResult): Promise<Map<string, { modelVersion: string; rows: Rows }>> {
  const dictionary = await readPicksDictionary(rows.dictionaryFile);
  const out = new Map<string, { modelVersion: string; rows: Rows }>();
  for await (const group of readPicksByMember(rows.picksFile, dictionary)) {
    for (const member of group) {
      out.set(member.memberId, {
        modelVersion: member.modelVersion,
        rows: new Map(member.rows.map((r) => [r.row, { picks: r.picks.map((p) => [p.classId, p.score, p.reason] as [string, number, string]), ...(r.experiment ? { experiment: r.experiment } : {}) }])),
      });
    }
  }
  return out;
}

describe('a live experiment in the daily run', { timeout: 180_000 }, () => {
  let world: PicksWorld;
  const interval = { start: day(UNTIL, -1), end: day(UNTIL) };
  const model = (runId: string) => (extract: Parameters<typeof writeIdOrderRanking>[0]) => writeIdOrderRanking(extract, path.join(world.artifactsDir, `${runId}-ranking.arrow`));
  let withModel: Map<string, { modelVersion: string; rows: Rows }>;
  let heuristicsOnly: Map<string, { modelVersion: string; rows: Rows }>;
  let run: Awaited<ReturnType<typeof runSteps>>;
  let published: Map<string, { modelVersion: string; rows: Rows }>;

  beforeAll(async () => {
    world = await PicksWorld.create();
    await seedSource(world.pool, { members: 160, classes: 120, days: 30, seed: 12, until: day(UNTIL) });
    // Without the experiment: the model's rows (id order) and the heuristics' alone.
    withModel = await readRows((await runSteps(world, stepContext('no-experiment', interval), { model: model('no-experiment'), publish: false })).rows);
    heuristicsOnly = await readRows((await runSteps(world, stepContext('heuristics-only', interval), { publish: false })).rows);
    await world.db.insert(experiments).values({ ...EXPERIMENT, createdBy: 'test' });
    run = await runSteps(world, stepContext('with-experiment', interval), { model: model('with-experiment') });
    published = await readRows(run.rows);
  });
  afterAll(async () => {
    await world?.close();
  });

  it("tags each member's experiment rows with the variant variantOf gives, from that variant's ranking; the other rows are unchanged", async () => {
    const withHistory = new Set((await world.query<{ member_id: string }>(`select distinct member_id from source.workout where started_at < $1`, [day(UNTIL)])).map((r) => r.member_id));
    expect(published.size).toBe(withModel.size);
    const counts: Record<string, number> = { heuristics: 0, model: 0 };
    let heuristicsDiffer = 0;
    for (const [memberId, member] of published) {
      const variant = variantOf(EXPERIMENT, memberId).key;
      counts[variant]! += 1;
      const before = withModel.get(memberId)!;
      // The member's version is the default's (the rows no experiment covers).
      expect(member.modelVersion, memberId).toBe(before.modelVersion);
      expect(before.modelVersion).toBe(withHistory.has(memberId) ? ID_ORDER_MODEL : 'popularity');
      // Without history: popular classes whatever the variant (tagged all the same). With the
      // model's variant: the model's rows; with the heuristics': the heuristics' rows.
      const expected = variant === 'heuristics' && withHistory.has(memberId) ? heuristicsOnly.get(memberId)! : before;
      for (const [row, { picks, experiment }] of member.rows) {
        if (NAMED.has(row)) {
          expect(experiment, `${memberId} ${row}`).toEqual({ key: EXPERIMENT.key, variant });
          expect(picks, `${memberId} ${row} (${variant})`).toEqual(expected.rows.get(row)!.picks);
        } else {
          expect(experiment).toBeUndefined();
          expect(picks, `${memberId} ${row}`).toEqual(before.rows.get(row)!.picks);
        }
      }
      expect([...member.rows.keys()].sort()).toEqual([...expected.rows.keys()].sort());
      if (variant === 'heuristics' && withHistory.has(memberId) && JSON.stringify([...expected.rows.get('for_your_usual')?.picks ?? []]) !== JSON.stringify(before.rows.get('for_your_usual')?.picks ?? [])) heuristicsDiffer += 1;
    }
    // Both variants got members, and the heuristics' rows really differ from the model's.
    expect(counts.heuristics).toBeGreaterThan(40);
    expect(counts.model).toBeGreaterThan(40);
    expect(heuristicsDiffer).toBeGreaterThan(10);
    expect(run.rows.experiments).toEqual([{ key: EXPERIMENT.key, rows: EXPERIMENT.rows, variants: counts }]);
  });

  it('publishes the variant in the picks table, the cache and the API body', async () => {
    const tagged = await world.query<{ row: string; experiment_key: string | null; variant: string | null; n: number }>(
      'select row, experiment_key, variant, count(*)::int as n from picks group by 1, 2, 3 order by 1, 2, 3',
    );
    for (const r of tagged) {
      if (NAMED.has(r.row)) expect([r.experiment_key, ['heuristics', 'model'].includes(r.variant!)]).toEqual([EXPERIMENT.key, true]);
      else expect([r.experiment_key, r.variant]).toEqual([null, null]);
    }
    const perMember = await world.query<{ member_id: string; variants: string[] }>(`select member_id, array_agg(distinct variant) as variants from picks where variant is not null group by 1`);
    expect(perMember.length).toBe(published.size);
    for (const r of perMember) expect(r.variants, r.member_id).toEqual([variantOf(EXPERIMENT, r.member_id).key]);

    const keys = new PicksCacheKeys(world.prefix);
    const reader = new PicksReader({ db: world.db, redis: world.redis, cachePrefix: world.prefix });
    const members = [...published.keys()].slice(0, 30);
    for (const memberId of members) {
      const variant = variantOf(EXPERIMENT, memberId).key;
      const cached = JSON.parse((await world.redis.hget(keys.members(run.publish!.publicationId), memberId))!) as CachedMemberPicks;
      for (const row of cached.rows) expect(row.experiment, `${memberId} ${row.row}`).toEqual(NAMED.has(row.row) ? { key: EXPERIMENT.key, variant } : undefined);
      const view = await reader.get(memberId);
      expect(view.source).toBe('cache');
      for (const rows of [undefined, new Set(['for_your_usual']), new Set(['ranked', 'something_new'])]) {
        const { body } = await reader.getBody(memberId, rows);
        const expected = rows ? { ...view, rows: view.rows.filter((r) => rows.has(r.row)) } : view;
        expect(body.toString('utf8')).toBe(JSON.stringify(expected));
      }
      const parsed = JSON.parse((await reader.getBody(memberId)).body.toString('utf8')) as { rows: { row: string; experiment?: unknown }[] };
      for (const row of parsed.rows) expect(row.experiment, row.row).toEqual(NAMED.has(row.row) ? { key: EXPERIMENT.key, variant } : undefined);
    }
  });

  it('assigns every member the same variant on the next day', async () => {
    const next = await runSteps(world, stepContext('next-day', { start: day(UNTIL), end: day(UNTIL, 1) }), { model: model('next-day') });
    const rows = await world.query<{ member_id: string; variant: string }>(`select distinct member_id, variant from picks where variant is not null`);
    expect(rows.length).toBe(published.size);
    for (const r of rows) {
      const before = [...published.get(r.member_id)!.rows.values()].find((row) => row.experiment)?.experiment?.variant;
      expect(r.variant, r.member_id).toBe(before);
    }
    expect(next.rows.experiments).toEqual(run.rows.experiments);
  });
});
