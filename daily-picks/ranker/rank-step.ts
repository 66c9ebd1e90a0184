import { selectBackend } from '../../model/backend.ts';
import type { History } from '../../model/data/history.ts';
import type { RankerModel } from '../../model/ranker/scorer.ts';
import { activeExperiments, VARIANT_RANKERS, variantOf } from '../experiments/experiment.ts';
import { loadRanker } from '../../model/ranker/artifact.ts';
import { Catalogue } from '../../model/data/catalogue.ts';
import { easeCandidate, itemKnnCandidate, popularityCandidate, rankerCandidate, servingSplit, type HoldoutCandidate, type HoldoutSplit } from '../../model/evaluation/holdout.ts';
import { DEFAULT_SEGMENT_RULES, segmentOf, type ServingCandidate } from '../../model/serving-plan.ts';
import type { ExtractResult } from '../extract.ts';
import { RankingWriter } from '../ranking-file.ts';
import type { TaskConnections } from '../../operators/connections.ts';
import { loadInputs, pathsFor, type StepContext } from '../steps.ts';
import type { RankerStageOptions } from './ranker-options.ts';
import { loadProduction, loadVersion, withPlan } from './production.ts';
import type { ServingModel, TrainResult } from './train-step.ts';

/** One candidate's ranking of its members in a shard. */
export type CandidateRanking = { candidate: ServingCandidate; rankingFile: string; members: number };

/** A model version's rankings of the members an experiment assigns to it (a variant), like `rankings`. */
export type VersionRanking = { version: string; rankings: CandidateRanking[] };

export type ShardRanking = {
  /** The first of `rankings` (kept for readers of one file per shard). */
  rankingFile: string;
  /** A file per candidate that ranks some of this shard's members (see the plan); members the heuristics serve are in none. */
  rankings: CandidateRanking[];
  /** Per model version a live experiment names as a variant and that could serve: its rankings of this shard's members in that variant. */
  versions?: VersionRanking[];
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

/** Members grouped by the candidate that ranks them. */
type CandidateGroups = Map<ShardCandidate, number[]>;

/**
 * rank shard `shard` of `shards`: every `shards`-th member with history (by index), ranked by the
 * candidate the serving plan gives their segment (as of the data's clock), each given their top
 * `candidateDepth` classes not yet taken. A version without a plan ranks everyone with its ranker.
 * The shard's members a live experiment assigns to a registered model version are ranked by that
 * version too (its plan, its artifact), into files of their own (`versions`).
 * Members are ranked a batch at a time, so memory is one batch's scores whatever the member count.
 */
export async function rankShardStep(resources: TaskConnections, step: StepContext, inputs: { extract: ExtractResult; model: ServingModel; shard: number; shards: number }): Promise<ShardRanking> {
  const started = performance.now();
  const backend = await selectBackend({ log: step.log });
  const { catalogue, history, asOf, runAsOf } = await loadInputs(inputs.extract, step.options);
  const split = servingSplit(catalogue, history, asOf, runAsOf);
  const shardMembers: number[] = [];
  for (let m = inputs.shard; m < history.memberCount; m += inputs.shards) {
    const { start, end } = history.workoutsOf(m);
    if (end > start) shardMembers.push(m);
  }
  // Baselines are fitted on the whole history, whichever version's plan names them: once per shard.
  const fitted = new Map<ShardCandidate, HoldoutCandidate>();
  const ranker: ShardRanker = { resources, step, catalogue, history, split, fitted, shard: inputs.shard, shards: inputs.shards };
  const rankings = await rankGroups(ranker, inputs.model, null, groupByPlan(inputs.model, shardMembers, history, asOf));
  let ranked = rankings.reduce((n, r) => n + r.members, 0);
  const versions = await rankVersions(ranker, inputs.model, rankings, shardMembers, asOf);
  for (const v of versions) if (v.version !== inputs.model.version) ranked += v.rankings.reduce((n, r) => n + r.members, 0);
  for (const candidate of fitted.values()) candidate.dispose?.();
  const seconds = (performance.now() - started) / 1000;
  const summary = rankings.map((r) => `${r.candidate} ${r.members}`).join(', ') || 'none (the heuristics serve them all)';
  const byVersion = versions.map((v) => `; ${v.version} (experiment): ${v.rankings.map((r) => `${r.candidate} ${r.members}`).join(', ') || 'none'}`).join('');
  step.log(`shard ${inputs.shard + 1}/${inputs.shards}: ranked ${ranked} members with ${inputs.model.version} (${summary}${byVersion}) on ${backend.name} in ${seconds.toFixed(1)} s`);
  return { rankingFile: rankings[0]?.rankingFile ?? '', rankings, ...(versions.length > 0 ? { versions } : {}), modelVersion: inputs.model.version, shard: inputs.shard, members: ranked, seconds };
}

/** What ranking a group of members needs: the run's data and the candidates fitted so far. */
interface ShardRanker {
  resources: TaskConnections;
  step: StepContext;
  catalogue: Catalogue;
  history: History;
  split: HoldoutSplit;
  fitted: Map<ShardCandidate, HoldoutCandidate>;
  shard: number;
  shards: number;
}

/** `members` grouped by the candidate `model`'s plan gives their segment (everyone to the ranker without a plan); the heuristics' members are left out. */
function groupByPlan(model: ServingModel, members: readonly number[], history: History, asOf: number): CandidateGroups {
  const plan = model.plan;
  const rules = plan?.rules ?? DEFAULT_SEGMENT_RULES;
  const groups: CandidateGroups = new Map();
  for (const m of members) {
    const { start, end } = history.workoutsOf(m);
    const candidate = plan ? plan.segments[segmentOf(end - start, history.lastActive(m), asOf, rules)] : 'ranker';
    if (candidate === 'heuristics') continue;
    let group = groups.get(candidate);
    if (!group) groups.set(candidate, (group = []));
    group.push(m);
  }
  return groups;
}

/** A file per candidate with its members' top `candidateDepth` classes. `loaded`: the version's ranker, already loaded (else loaded from its artifact). */
async function rankGroups(ranker: ShardRanker, model: ServingModel, loaded: RankerModel | null, groups: CandidateGroups, filePrefix = 'ranking'): Promise<CandidateRanking[]> {
  const { step, catalogue, history, split } = ranker;
  const batchSize = step.options.memberBatchSize;
  const rankings: CandidateRanking[] = [];
  for (const [candidate, members] of groups) {
    let scorer: HoldoutCandidate;
    let dispose: (() => void) | undefined;
    if (candidate === 'ranker') {
      const network = loaded ?? (await loadRanker(model.artifactPath));
      const ranked = rankerCandidate('ranker', network, catalogue, split, batchSize);
      scorer = ranked;
      dispose = () => {
        ranked.dispose?.();
        if (!loaded) network.network.dispose();
      };
    } else {
      let fitted = ranker.fitted.get(candidate);
      if (!fitted) ranker.fitted.set(candidate, (fitted = baselineCandidate(candidate, catalogue, split)));
      scorer = fitted;
    }
    const rankingFile = pathsFor(ranker.resources, step).runFile(step.runId, `${filePrefix}-${candidate}-${ranker.shard}-of-${ranker.shards}.arrow`);
    const writer = await RankingWriter.create(rankingFile, batchSize);
    for (let s = 0; s < members.length; s += batchSize) {
      step.signal?.throwIfAborted();
      const batch = Int32Array.from(members.slice(s, s + batchSize));
      const result = scorer.rank(batch, step.options.candidateDepth);
      for (let i = 0; i < batch.length; i++) {
        const classes = result.ranked[i]!;
        const scores = result.probability?.[i] ?? result.scores?.[i] ?? new Float32Array(classes.length);
        await writer.add(history.memberIds[batch[i]!]!, classes, scores);
      }
    }
    await writer.close();
    dispose?.();
    rankings.push({ candidate, rankingFile, members: writer.members });
  }
  return rankings;
}

/**
 * The rankings by the model versions live experiments name as variants, of this shard's members
 * assigned to them: the serving model's own files when the variant is the serving version, else
 * ranked here by the version's plan and artifact. A version that cannot serve (unknown, failed,
 * a stale catalogue) is left out: the rows step gives its members the model's rows, and says so.
 */
async function rankVersions(ranker: ShardRanker, model: ServingModel, rankings: CandidateRanking[], members: readonly number[], asOf: number): Promise<VersionRanking[]> {
  const { resources, step, catalogue, history } = ranker;
  const experiments = await activeExperiments(resources.db, new Date(asOf));
  const versions = new Set(experiments.flatMap((e) => e.variants.map((v) => v.key)).filter((k) => !(VARIANT_RANKERS as readonly string[]).includes(k)));
  const out: VersionRanking[] = [];
  for (const version of versions) {
    if (version === model.version) {
      out.push({ version, rankings });
      continue;
    }
    const assigned = members.filter((m) => experiments.some((e) => e.variants.some((v) => v.key === version) && variantOf(e, history.memberIds[m]!).key === version));
    const loaded = await loadVersion(resources.db, version, catalogue, step.log);
    if (!loaded.model || !loaded.current?.artifactPath) continue;
    const serving: ServingModel = { version, artifactPath: loaded.current.artifactPath, ...withPlan(loaded.current.serving) };
    try {
      const files = await rankGroups(ranker, serving, loaded.model, groupByPlan(serving, assigned, history, asOf), `ranking-version-${fileSafe(version)}`);
      out.push({ version, rankings: files });
    } finally {
      loaded.model.network.dispose();
    }
  }
  return out;
}

/** A version as part of a file name (versions are `ranker-2026-11-28-001`, but any registered name works). */
function fileSafe(version: string): string {
  return version.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** A baseline candidate, fitted on the whole history. */
function baselineCandidate(candidate: Exclude<ShardCandidate, 'ranker'>, catalogue: Catalogue, split: HoldoutSplit): HoldoutCandidate {
  switch (candidate) {
    case 'ease':
      return easeCandidate(catalogue, split);
    case 'baseline':
      return itemKnnCandidate(catalogue, split);
    case 'popularity':
      return popularityCandidate(catalogue, split);
  }
}
