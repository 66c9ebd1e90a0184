/**
 * The real `dags/daily_picks.ts`, once end to end: `flywheel dags test daily_picks` as a child
 * process on a small seed, then the picks table, the publication and the picks API.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DagTestResult } from '../../cli/dag-test.ts';
import type { MemberPicksView } from '../../daily-picks/picks-reader.ts';
import type { TrainResult } from '../../daily-picks/ranker/train-step.ts';
import { seedSource, todayUtc } from '../../daily-picks/source/seed.ts';
import { Children, parseJson, ROOT, runCli } from './proc-support.ts';
import { PicksWorld, startPicksApi } from '../support/picks.ts';

describe('dags/daily_picks.ts end to end', { timeout: 240_000 }, () => {
  let world: PicksWorld;
  const children = new Children();

  beforeAll(async () => {
    world = await PicksWorld.create();
    await seedSource(world.pool, { members: 200, classes: 120, days: 45, seed: 21, until: todayUtc() });
  });
  afterAll(async () => {
    await children.killAll();
    await world?.close();
  });

  it('runs every task to success, fills the picks table and serves a seeded member\'s rows', async () => {
    const result = await runCli(children, ['dags', 'test', 'daily_picks', '--json'], world.childEnv({ DAGS_FOLDER: path.join(ROOT, 'dags') }), 200_000);
    const run = parseJson<DagTestResult>(result);
    expect(run.state, result.stderr).toBe('success');
    expect(Object.fromEntries(run.tasks.map((t) => [t.taskId, t.state]))).toEqual({
      extract: 'success',
      heuristics: 'success',
      attribute_conversions: 'success',
      train: 'success',
      rank_shard_0: 'success',
      rank_shard_1: 'success',
      rank: 'success',
      select_ranking: 'success',
      filter_rows: 'success',
      publish: 'success',
    });
    const train = run.tasks.find((t) => t.taskId === 'train')!.output as TrainResult;
    expect(Object.keys(train.metrics)).toEqual(expect.arrayContaining(['ranker', 'heuristics', 'popularity', 'baseline']));
    const publish = run.tasks.find((t) => t.taskId === 'publish')!.output as { published: boolean; members: number; picks: number };
    expect(publish.published).toBe(true);

    // Every member known at the as-of time has picks, all from this run.
    const [table] = await world.query<{ members: number; picks: number; runs: string[] }>('select count(distinct member_id)::int as members, count(*)::int as picks, array_agg(distinct run_id) as runs from picks');
    expect(table!.runs).toEqual([run.runId]);
    expect(table!.picks).toBe(publish.picks);
    expect(table!.members).toBe(publish.members);
    const { asOf } = run.tasks.find((t) => t.taskId === 'extract')!.output as { asOf: string };
    const [known] = await world.query<{ n: number }>(
      `select count(*)::int as n from (select member_id from source.member where signup_at is null or signup_at < $1
                                        union select member_id from source.workout where started_at < $1) m`,
      [asOf],
    );
    expect(table!.members).toBeGreaterThan(100);
    expect(table!.members).toBe(known!.n);
    // The first version trained here is promoted (nothing is in production, and the holdout
    // evaluated members); its plan says which candidate serves each segment, popularity serves
    // members without history.
    expect(train.trained.promoted).toBe(true);
    const plan = train.trained.plan!;
    const versionOf = (candidate: string) =>
      candidate === 'ranker' ? train.trained.version : candidate === 'ease' ? `${train.trained.version}/ease` : candidate === 'baseline' ? `${train.trained.version}/item_knn` : candidate;
    const planned = new Set(Object.values(plan.segments).map(versionOf));
    const versions = await world.query<{ model_version: string }>('select distinct model_version from picks order by 1');
    const published = versions.map((v) => v.model_version);
    expect(published).toContain('popularity');
    for (const version of published) expect([...planned]).toContain(version);
    const ranker = published.find((v) => v !== 'popularity')!;
    const [bad] = await world.query<{ n: number }>(`select count(*)::int as n from picks where reason = '' or score = 'NaN'::real or position < 1`);
    expect(bad!.n).toBe(0);

    // The API serves a seeded member with history from the cache.
    const [member] = await world.query<{ member_id: string }>(`select member_id from picks where model_version = $1 order by member_id limit 1`, [ranker]);
    const api = await startPicksApi(world);
    try {
      const res = await fetch(`${api.url}/members/${encodeURIComponent(member!.member_id)}/picks`);
      expect(res.status).toBe(200);
      const view = (await res.json()) as MemberPicksView;
      expect(view).toMatchObject({ memberId: member!.member_id, source: 'cache', modelVersion: ranker });
      expect(view.rows.map((r) => r.row)).toContain('ranked');
      expect(view.rows.find((r) => r.row === 'ranked')!.picks).toHaveLength(100);
      for (const row of view.rows) {
        for (const pick of row.picks) {
          expect(pick.title, pick.classId).toBeTruthy();
          expect(Number.isFinite(pick.score)).toBe(true);
          expect(pick.reason.length).toBeGreaterThan(0);
        }
      }
    } finally {
      await api.close();
    }
  });
});
