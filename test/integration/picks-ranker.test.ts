/**
 * The two-tower ranker inside Daily Picks, through the scheduler and sandboxed workers (train in
 * the gpu pool, two rank shards in the default pool) on a seeded dataset, four runs in order:
 * training fails with no model in production (heuristic rows); a good model trains, passes the
 * gate and is published; a worse model is kept as a candidate and production keeps ranking; and
 * training fails again, so the shards rank with the model in production.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainResult } from '../../daily-picks/ranker/train-step.ts';
import type { ShardRanking } from '../../daily-picks/ranker/rank-step.ts';
import type { ModelRanking } from '../../daily-picks/steps.ts';
import { seedSource } from '../../daily-picks/source/seed.ts';
import { FIXTURE_MODEL } from '../fixtures/dags-ranker/_options.ts';
import { Harness } from '../support/harness.ts';
import { day, DAY_MS, PicksWorld } from '../support/picks.ts';
import { segmentOf, type Segment, type ServingPlan } from '../../model/serving-plan.ts';

const RANKER_DAGS = fileURLToPath(new URL('../fixtures/dags-ranker', import.meta.url));
const UNTIL = day('2026-06-01');
const RANKER_TASKS = ['train', 'rank_shard_0', 'rank_shard_1', 'rank'];

type VersionRow = {
  version: string;
  stage: string;
  status: string;
  backend: string;
  metrics: Record<string, Record<string, number>>;
  artifact_path: string | null;
  error: string | null;
  params: Record<string, unknown>;
  row_counts: Record<string, number>;
  serving: (ServingPlan & { holdout: { kind: string; members: number }; gate: { promote: boolean; reason: string } }) | null;
};

/** The picks' model_version a member gets from `version`'s plan: the ranker's is the version itself. */
function expectedVersion(plan: ServingPlan, version: string, segment: Segment): string {
  const candidate = plan.segments[segment];
  return candidate === 'ranker' ? version : candidate === 'ease' ? `${version}/ease` : candidate === 'baseline' ? `${version}/item_knn` : candidate;
}

describe('Daily Picks with the two-tower ranker (fixture DAGs through the scheduler)', { timeout: 400_000 }, () => {
  let harness: Harness;
  let world: PicksWorld;
  let promoted: string;

  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: RANKER_DAGS, workers: { default: 3, gpu: 1 } });
    world = await PicksWorld.create({ databaseUrl: harness.config.databaseUrl, prefix: harness.config.queuePrefix });
    await seedSource(world.pool, { members: 1200, classes: 200, days: 60, seed: 8, until: UNTIL });
  });
  afterAll(async () => {
    await world?.close();
    await harness?.close();
  });

  async function run(dagId: string, logicalDate = UNTIL) {
    const triggered = await harness.trigger(dagId, { logicalDate });
    const finished = await harness.waitForRun(triggered.dagRunId, { timeoutMs: 300_000 });
    const instances = await harness.taskInstances(triggered.dagRunId);
    const output = <T>(taskId: string) => instances.find((t) => t.taskId === taskId)!.output as T;
    const log = async (taskId: string) => (await harness.logs(triggered.dagRunId, taskId, 1)).map((l) => l.message).join('\n');
    return { runId: triggered.runId, finished, states: await harness.taskStates(triggered.dagRunId), output, log };
  }

  const versions = () => world.query<VersionRow>(`select * from model_version where model_name = $1 order by created_at`, [FIXTURE_MODEL]);

  /** Model version of each member's published picks. */
  async function publishedVersions(runId: string): Promise<Map<string, string>> {
    const rows = await world.query<{ member_id: string; versions: string[]; runs: string[] }>('select member_id, array_agg(distinct model_version) as versions, array_agg(distinct run_id) as runs from picks group by member_id');
    for (const r of rows) {
      expect(r.versions, r.member_id).toHaveLength(1);
      expect(r.runs).toEqual([runId]);
    }
    return new Map(rows.map((r) => [r.member_id, r.versions[0]!]));
  }

  /** Members with a workout in the 60 days before the as-of time. */
  async function activeMembers(): Promise<Set<string>> {
    const rows = await world.query<{ member_id: string }>(`select distinct member_id from source.workout where started_at < $1 and started_at >= $2`, [UNTIL, new Date(UNTIL.getTime() - 60 * DAY_MS)]);
    return new Set(rows.map((r) => r.member_id));
  }

  /** Every member with history, and their segment as of the as-of time under `plan`'s rules. */
  async function memberSegments(plan: ServingPlan): Promise<Map<string, Segment>> {
    const rows = await world.query<{ member_id: string; n: number; last_ms: number }>(
      `select member_id, count(*)::int as n, (extract(epoch from max(started_at)) * 1000)::float8 as last_ms from source.workout where started_at < $1 group by member_id`,
      [UNTIL],
    );
    return new Map(rows.map((r) => [r.member_id, segmentOf(r.n, Number(r.last_ms), UNTIL.getTime(), plan.rules)]));
  }

  /** Every member with history got the picks their segment's candidate makes under `version`'s plan. */
  async function expectServedByPlan(published: Map<string, string>, plan: ServingPlan, version: string) {
    const segments = await memberSegments(plan);
    expect(segments.size).toBeGreaterThan(100);
    for (const [member, segment] of segments) expect(published.get(member), `${member} (${segment})`).toBe(expectedVersion(plan, version, segment));
  }

  it('training fails with no model in production: the shards rank nothing and the rows come from the heuristics', async () => {
    const r = await run('ranker_train_fails');
    expect(r.finished.state).toBe('success');
    expect(r.states).toMatchObject({ train: 'failed', rank_shard_0: 'success', rank_shard_1: 'success', rank: 'success', select_ranking: 'success', publish: 'success' });
    expect(r.output<ShardRanking | null>('rank_shard_0')).toBeNull();
    expect(r.output<ModelRanking | null>('rank')).toBeNull();
    expect(await r.log('rank_shard_0')).toMatch(/no model is in production: no model ranking this run/);
    const [failed] = await versions();
    expect(failed).toMatchObject({ stage: 'failed', status: 'failed', backend: 'wasm' });
    expect(failed!.error).toMatch(/no workouts before the validation period/);
    expect(new Set((await publishedVersions(r.runId)).values())).toEqual(new Set(['heuristics', 'popularity']));
  });

  it('a trained model is evaluated with every candidate, its plan is promoted, and the shards serve every member their segment\'s candidate', async () => {
    const r = await run('ranker_daily');
    expect(r.finished.state).toBe('success');
    for (const taskId of [...RANKER_TASKS, 'select_ranking', 'filter_rows', 'publish']) expect(r.states[taskId], taskId).toBe('success');
    const train = r.output<TrainResult>('train');
    for (const candidate of ['ranker', 'heuristics', 'popularity', 'baseline', 'ease']) {
      expect(train.metrics[candidate]!['ndcg@10'], candidate).toBeGreaterThan(0);
      expect(train.metrics[candidate]!['recall@10'], candidate).toBeGreaterThan(0);
    }
    // On this data the ranker beats the heuristics (model/README.md): it serves the active members.
    expect(train.metrics.ranker!['ndcg@10']).toBeGreaterThan(train.metrics.heuristics!['ndcg@10']!);
    expect(train.metrics.ranker!['ece']).toBeGreaterThanOrEqual(0);
    expect(train.trained.promoted).toBe(true);
    const plan = train.trained.plan!;
    expect(plan.segments.no_history).toBe('popularity');
    expect(plan.segments.active).toBe('ranker');
    expect(train.serving).toEqual({ version: train.trained.version, artifactPath: train.trained.artifactPath, plan });
    promoted = train.trained.version;
    expect(existsSync(path.join(train.trained.artifactPath, 'model.json'))).toBe(true);
    expect(await r.log('train')).toMatch(/tfjs backend: wasm/);

    const row = (await versions()).find((v) => v.version === promoted)!;
    expect(row).toMatchObject({ stage: 'production', status: 'succeeded', backend: 'wasm', artifact_path: train.trained.artifactPath });
    expect(row.params).toMatchObject({ backendDetail: expect.stringMatching(/^wasm/), epochs: 3 });
    expect(row.row_counts.trainExamples).toBeGreaterThan(1000);
    expect(Object.keys(row.metrics)).toEqual(expect.arrayContaining(['ranker', 'heuristics', 'popularity', 'baseline', 'ease']));
    // The registry keeps the plan, the holdout it was decided on (the last 3 days: dense generated data) and the gate.
    expect(row.serving).toMatchObject({ segments: plan.segments, holdout: { kind: 'time' }, gate: { promote: true } });
    expect(row.serving!.holdout.members).toBeGreaterThan(100);

    // The shards split the members between them; together they rank every member with history the plan does not give the heuristics.
    const shards = [r.output<ShardRanking>('rank_shard_0'), r.output<ShardRanking>('rank_shard_1')];
    const ranking = r.output<ModelRanking>('rank');
    const files = shards.flatMap((s) => s.rankings);
    expect(ranking).toEqual({ rankingFiles: files.map((f) => f.rankingFile), modelVersion: promoted, candidates: files.map((f) => f.candidate) });
    const segments = await memberSegments(plan);
    const byShards = [...segments.values()].filter((segment) => plan.segments[segment] !== 'heuristics').length;
    expect(shards[0]!.members + shards[1]!.members).toBe(byShards);
    expect(Math.abs(shards[0]!.members - shards[1]!.members)).toBeLessThanOrEqual(segments.size / 4);

    const published = await publishedVersions(r.runId);
    await expectServedByPlan(published, plan, promoted);
    const active = await activeMembers();
    expect(active.size).toBeGreaterThan(100);
    for (const member of active) expect(published.get(member), member).toBe(promoted);
    // Model scores are calibrated probabilities: in (0, 1], and a member's ranked row is in score order.
    const [bounds] = await world.query<{ lo: number; hi: number }>(`select min(score) as lo, max(score) as hi from picks where model_version = $1 and row = 'ranked'`, [promoted]);
    expect(bounds!.lo).toBeGreaterThan(0);
    expect(bounds!.hi).toBeLessThanOrEqual(1);
  });

  it('a worse model is kept as a candidate; the model in production keeps ranking', async () => {
    const r = await run('ranker_untrained');
    expect(r.finished.state).toBe('success');
    const train = r.output<TrainResult>('train');
    expect(train.trained.promoted).toBe(false);
    expect(train.trained.reason).toMatch(/does not beat production/);
    expect(train.metrics.production!['ndcg@10']).toBeGreaterThan(train.metrics.ranker!['ndcg@10']!);
    // The untrained ranker serves no segment of its own plan: the registry says so.
    expect(Object.values(train.trained.plan!.segments)).not.toContain('ranker');
    expect(train.serving?.version).toBe(promoted);
    const candidateRow = (await versions()).find((v) => v.version === train.trained.version)!;
    expect((candidateRow.serving as unknown as { ranker: string }).ranker).toMatch(/the ranker serves no segment/);
    const all = await versions();
    expect(all.find((v) => v.version === train.trained.version)).toMatchObject({ stage: 'candidate', status: 'succeeded' });
    expect(all.filter((v) => v.stage === 'production').map((v) => v.version)).toEqual([promoted]);
    const published = await publishedVersions(r.runId);
    for (const member of await activeMembers()) expect(published.get(member), member).toBe(promoted);
    await expectServedByPlan(published, train.serving!.plan!, promoted);
  });

  it('training fails with a model in production: the shards rank with it (the last good model)', async () => {
    // An hour later: the DAG's first run holds the logical date.
    const r = await run('ranker_train_fails', new Date(UNTIL.getTime() + 3_600_000));
    expect(r.finished.state).toBe('success');
    expect(r.states).toMatchObject({ train: 'failed', rank_shard_0: 'success', rank_shard_1: 'success', rank: 'success' });
    expect(await r.log('rank_shard_1')).toMatch(new RegExp(`training failed: ranking with the production model ${promoted}`));
    expect(r.output<ModelRanking>('rank').modelVersion).toBe(promoted);
    const published = await publishedVersions(r.runId);
    for (const member of await activeMembers()) expect(published.get(member), member).toBe(promoted);
  });
});
