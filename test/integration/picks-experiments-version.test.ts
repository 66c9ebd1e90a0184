/**
 * A registered model version as an experiment's variant: the rank shard ranks the members
 * assigned to it with that version (besides everyone with the serving model), and the rows step
 * gives them that version's rows; a variant naming a version that cannot serve falls back to
 * the model's rows, with a warning.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { experiments } from '../../core/db/schema/experiment.ts';
import { variantOf, type Experiment } from '../../daily-picks/experiments/experiment.ts';
import type { ExtractResult } from '../../daily-picks/extract.ts';
import { readPicksByMember, readPicksDictionary } from '../../daily-picks/picks-file.ts';
import { rankShardStep, type ShardRanking } from '../../daily-picks/ranker/rank-step.ts';
import { extractStep, heuristicsStep, loadInputs, rowsStep, type HeuristicsResult, type ModelRanking, type RowsResult } from '../../daily-picks/steps.ts';
import { seedSource } from '../../daily-picks/source/seed.ts';
import { saveRanker } from '../../model/ranker/artifact.ts';
import { trainRanker } from '../../model/ranker/trainer.ts';
import { finishModel, registerModel } from '../../model/registry.ts';
import { day, PicksWorld, stepContext } from '../support/picks.ts';

const UNTIL = '2026-06-01';
const NAMED = ['for_your_usual', 'quick_workout', 'something_new'];

type Rows = Map<string, { picks: string; variant: string | null }>;

async function readRows(rows: RowsResult): Promise<Map<string, Rows>> {
  const dictionary = await readPicksDictionary(rows.dictionaryFile);
  const out = new Map<string, Rows>();
  for await (const group of readPicksByMember(rows.picksFile, dictionary)) {
    for (const member of group) out.set(member.memberId, new Map(member.rows.map((r) => [r.row, { picks: JSON.stringify(r.picks), variant: r.experiment?.variant ?? null }])));
  }
  return out;
}

const asModel = (shard: ShardRanking): ModelRanking => ({ rankingFiles: shard.rankings.map((r) => r.rankingFile), candidates: shard.rankings.map((r) => r.candidate), modelVersion: shard.modelVersion });

describe('a model version as a variant', { timeout: 240_000 }, () => {
  let world: PicksWorld;
  const step = (runId: string) => ({ ...stepContext(runId, { start: day(UNTIL, -1), end: day(UNTIL) }), log: (m: string) => logs.push(m) });
  const logs: string[] = [];
  let extract: ExtractResult;
  let heuristics: HeuristicsResult;
  const versions: { version: string; artifactPath: string }[] = [];

  beforeAll(async () => {
    world = await PicksWorld.create();
    await seedSource(world.pool, { members: 120, classes: 80, days: 30, seed: 4, until: day(UNTIL) });
    extract = await extractStep(world.resources, step('extract'));
    heuristics = await heuristicsStep(world.resources, step('heuristics'), extract);
    const { catalogue, history, asOf } = await loadInputs(extract, step('load').options);
    // Two versions, different seeds: a quick, small training each (their quality is not the point).
    for (const seed of [1, 2]) {
      const registered = await registerModel(world.db, { modelName: 'exp_ranker', backend: 'test', params: {} });
      const trained = await trainRanker({ catalogue, history, validationFrom: asOf - 3 * 86_400_000, trainBefore: asOf, options: { epochs: 1, minSteps: 0, seed, maxTrainSeconds: 60 } });
      const artifactPath = `${world.artifactsDir}/models/${registered.version}`;
      await saveRanker(trained, artifactPath, { version: registered.version });
      trained.network.dispose();
      await finishModel(world.db, registered.version, { status: 'succeeded', artifactPath });
      versions.push({ version: registered.version, artifactPath });
    }
  });
  afterAll(async () => {
    await world?.close();
  });

  it("ranks the version's members with it and gives them its rows; a version that cannot serve falls back to the model's", async () => {
    const [v1, v2] = versions as [{ version: string; artifactPath: string }, { version: string; artifactPath: string }];
    // Without experiments: everyone's rows by v1 (the serving model) and by v2.
    const byV1 = await rankShardStep(world.resources, step('v1'), { extract, model: v1, shard: 0, shards: 1 });
    expect(byV1.versions).toBeUndefined();
    const rowsV1 = await readRows(await rowsStep(world.resources, step('rows-v1'), { extract, heuristics, model: asModel(byV1) }));
    const byV2 = await rankShardStep(world.resources, step('v2'), { extract, model: v2, shard: 0, shards: 1 });
    const rowsV2 = await readRows(await rowsStep(world.resources, step('rows-v2'), { extract, heuristics, model: asModel(byV2) }));

    const experiment: Experiment = { key: 'version-ab', variants: [{ key: 'model', weight: 50 }, { key: v2.version, weight: 50 }], rows: NAMED, startAt: day(UNTIL, -5), endAt: null, stoppedAt: null };
    // A second experiment (its own row) whose variant names a version that does not exist.
    const ghost: Experiment = { key: 'ghost-ab', variants: [{ key: 'heuristics', weight: 50 }, { key: 'ranker-1999-01-01-001', weight: 50 }], rows: ['ranked'], startAt: day(UNTIL, -5), endAt: null, stoppedAt: null };
    await world.db.insert(experiments).values([{ ...experiment, createdBy: 'test' }, { ...ghost, createdBy: 'test' }]);

    logs.length = 0;
    const shard = await rankShardStep(world.resources, step('with-experiment'), { extract, model: v1, shard: 0, shards: 1 });
    expect(shard.versions!.map((v) => v.version)).toEqual([v2.version]);
    expect(logs.join('\n')).toMatch(/model version ranker-1999-01-01-001 is not used: no such version is registered/);
    const assigned = [...rowsV1.keys()].filter((m) => variantOf(experiment, m).key === v2.version);
    const ranked = shard.versions![0]!.rankings.reduce((n, r) => n + r.members, 0);
    const withHistory = new Set((await world.query<{ member_id: string }>('select distinct member_id from source.workout where started_at < $1', [day(UNTIL)])).map((r) => r.member_id));
    expect(ranked).toBe(assigned.filter((m) => withHistory.has(m)).length);

    const model: ModelRanking = { ...asModel(shard), versions: shard.versions!.map((v) => ({ version: v.version, rankingFiles: v.rankings.map((r) => r.rankingFile), candidates: v.rankings.map((r) => r.candidate) })) };
    logs.length = 0;
    const result = await rowsStep(world.resources, step('rows-experiment'), { extract, heuristics, model });
    expect(logs.join('\n')).toMatch(/variant ranker-1999-01-01-001: the rank shards have no ranking by model version ranker-1999-01-01-001 this run/);
    const rows = await readRows(result);
    let fromV2 = 0;
    for (const [memberId, member] of rows) {
      const variant = variantOf(experiment, memberId).key;
      const expected = variant === v2.version && withHistory.has(memberId) ? rowsV2.get(memberId)! : rowsV1.get(memberId)!;
      for (const row of NAMED) {
        if (!member.has(row)) continue;
        expect(member.get(row), `${memberId} ${row}`).toEqual({ picks: expected.get(row)!.picks, variant });
        if (expected !== rowsV1.get(memberId) && expected.get(row)!.picks !== rowsV1.get(memberId)!.get(row)!.picks) fromV2 += 1;
      }
      // The ghost version's members get the model's ranked row, tagged with the variant they are in.
      const ghostVariant = variantOf(ghost, memberId).key;
      if (ghostVariant !== 'heuristics' || !withHistory.has(memberId)) expect(member.get('ranked'), memberId).toEqual({ picks: rowsV1.get(memberId)!.get('ranked')!.picks, variant: ghostVariant });
      else expect(member.get('ranked')!.variant).toBe('heuristics');
    }
    expect(fromV2).toBeGreaterThan(10);
    // Oldest first, then by key.
    expect(result.experiments.map((e) => e.key)).toEqual(['ghost-ab', 'version-ab']);
  });
});
