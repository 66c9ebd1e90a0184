import { selectBackend } from '../../model/backend.ts';
import { loadRanker } from '../../model/ranker/artifact.ts';
import { Catalogue } from '../../model/data/catalogue.ts';
import { easeCandidate, itemKnnCandidate, popularityCandidate, rankerCandidate, servingSplit, type HoldoutCandidate, type HoldoutSplit } from '../../model/evaluation/holdout.ts';
import { DEFAULT_SEGMENT_RULES, segmentOf, type ServingCandidate } from '../../model/serving-plan.ts';
import type { ExtractResult } from '../extract.ts';
import { RankingWriter } from '../ranking-file.ts';
import type { TaskConnections } from '../../operators/connections.ts';
import { loadInputs, pathsFor, type StepContext } from '../steps.ts';
import type { RankerStageOptions } from './ranker-options.ts';
import { loadProduction, withPlan } from './production.ts';
import type { ServingModel, TrainResult } from './train-step.ts';

/** One candidate's ranking of its members in a shard. */
export type CandidateRanking = { candidate: ServingCandidate; rankingFile: string; members: number };

export type ShardRanking = {
  /** The first of `rankings` (kept for readers of one file per shard). */
  rankingFile: string;
  /** A file per candidate that ranks some of this shard's members (see the plan); members the heuristics serve are in none. */
  rankings: CandidateRanking[];
  modelVersion: string;
  shard: number;
  members: number;
  seconds: number;
};

/**
 * The model to rank with: what `train` chose, or — when training failed — the one in production
 * (the last good model), unless it cannot serve today's catalogue. Null when there is none: the
 * rows come from the heuristics.
 */
export async function servingModel(resources: TaskConnections, train: TrainResult | null, options: RankerStageOptions, extract: ExtractResult, log: (message: string) => void): Promise<ServingModel | null> {
  if (train) return train.serving;
  const { current, model, unusable } = await loadProduction(resources.db, options.modelName, await Catalogue.load(extract.classesFile), log);
  model?.network.dispose();
  if (!current?.artifactPath) {
    log('training failed and no model is in production: no model ranking this run');
    return null;
  }
  if (unusable) {
    log(`training failed and production ${unusable.version} cannot serve: no model ranking this run`);
    return null;
  }
  log(`training failed: ranking with the production model ${current.version}`);
  return { version: current.version, artifactPath: current.artifactPath, ...withPlan(current.serving) };
}

/** Candidates the shards rank with; the heuristics' ranking comes from their own task. */
type ShardCandidate = Exclude<ServingCandidate, 'heuristics'>;

/**
 * rank shard `shard` of `shards`: every `shards`-th member with history (by index), ranked by the
 * candidate the serving plan gives their segment (as of the data's clock), each given their top
 * `candidateDepth` classes not yet taken. A version without a plan ranks everyone with its ranker.
 * Members are ranked a batch at a time, so memory is one batch's scores whatever the member count.
 */
export async function rankShardStep(resources: TaskConnections, step: StepContext, inputs: { extract: ExtractResult; model: ServingModel; shard: number; shards: number }): Promise<ShardRanking> {
  const started = performance.now();
  const backend = await selectBackend({ log: step.log });
  const { catalogue, history, asOf, runAsOf } = await loadInputs(inputs.extract, step.options);
  const plan = inputs.model.plan;
  const rules = plan?.rules ?? DEFAULT_SEGMENT_RULES;
  const batchSize = step.options.memberBatchSize;
  const split = servingSplit(catalogue, history, asOf, runAsOf);
  const groups = new Map<ShardCandidate, number[]>();
  for (let m = inputs.shard; m < history.memberCount; m += inputs.shards) {
    const { start, end } = history.workoutsOf(m);
    if (end === start) continue;
    const candidate = plan ? plan.segments[segmentOf(end - start, history.lastActive(m), asOf, rules)] : 'ranker';
    if (candidate === 'heuristics') continue;
    let group = groups.get(candidate);
    if (!group) groups.set(candidate, (group = []));
    group.push(m);
  }
  const rankings: CandidateRanking[] = [];
  let ranked = 0;
  for (const [candidate, members] of groups) {
    const ranker = await shardCandidate(candidate, inputs.model, catalogue, split, batchSize);
    const rankingFile = pathsFor(resources, step).runFile(step.runId, `ranking-${candidate}-${inputs.shard}-of-${inputs.shards}.arrow`);
    const writer = await RankingWriter.create(rankingFile, batchSize);
    for (let s = 0; s < members.length; s += batchSize) {
      step.signal?.throwIfAborted();
      const batch = Int32Array.from(members.slice(s, s + batchSize));
      const result = ranker.rank(batch, step.options.candidateDepth);
      for (let i = 0; i < batch.length; i++) {
        const classes = result.ranked[i]!;
        const scores = result.probability?.[i] ?? result.scores?.[i] ?? new Float32Array(classes.length);
        await writer.add(history.memberIds[batch[i]!]!, classes, scores);
      }
    }
    await writer.close();
    ranker.dispose?.();
    rankings.push({ candidate, rankingFile, members: writer.members });
    ranked += writer.members;
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = rankings.map((r) => `${r.candidate} ${r.members}`).join(', ') || 'none (the heuristics serve them all)';
  step.log(`shard ${inputs.shard + 1}/${inputs.shards}: ranked ${ranked} members with ${inputs.model.version} (${summary}) on ${backend.name} in ${seconds.toFixed(1)} s`);
  return { rankingFile: rankings[0]?.rankingFile ?? '', rankings, modelVersion: inputs.model.version, shard: inputs.shard, members: ranked, seconds };
}

/** The candidate, fitted on the whole history (the baselines) or loaded from the version's artifact (the ranker). */
async function shardCandidate(candidate: ShardCandidate, model: ServingModel, catalogue: Catalogue, split: HoldoutSplit, batchSize: number): Promise<HoldoutCandidate> {
  switch (candidate) {
    case 'ranker': {
      const ranker = await loadRanker(model.artifactPath);
      const scorer = rankerCandidate('ranker', ranker, catalogue, split, batchSize);
      return { ...scorer, dispose: () => { scorer.dispose?.(); ranker.network.dispose(); } };
    }
    case 'ease':
      return easeCandidate(catalogue, split);
    case 'baseline':
      return itemKnnCandidate(catalogue, split);
    case 'popularity':
      return popularityCandidate(catalogue, split);
  }
}
