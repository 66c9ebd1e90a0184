import { Catalogue } from '../model/data/catalogue.ts';
import { extractHistory, type ExtractResult } from './extract.ts';
import { computePopularity, HeuristicScorer } from '../model/baselines/heuristics.ts';
import { History } from '../model/data/history.ts';
import type { DailyPicksOptions } from './options.ts';
import { ArtifactPaths } from './paths.ts';
import { DAY_MS, dataClock } from '../model/data/time.ts';
import { PicksFileWriter, type PicksSource } from './picks-file.ts';
import { profileFromWorkouts, profileOf } from '../model/data/profiles.ts';
import { publishPicks, type PublishResult } from './publish.ts';
import { RankingWriter, readRanking } from './ranking-file.ts';
import type { TaskConnections } from '../operators/connections.ts';
import { cutRows } from './rows/cut-rows.ts';
import { defaultRowSpecs, rowsUnavailable } from './rows/row-specs.ts';
import { TopN } from '../model/data/top-n.ts';
import { activeExperiments } from './experiments/experiment.ts';
import { attributeConversions } from './feedback/conversions.ts';
import { dropExpiredFeedback } from './feedback/partitions.ts';
import { ExperimentRows, type ExperimentCounts } from './rows/experiment-rows.ts';
import { RowCutter } from './rows/member-cutter.ts';
import { VariantRows } from './rows/variant-rows.ts';
import type { ServingCandidate } from '../model/serving-plan.ts';

/** What every step knows about its run. */
export interface StepContext {
  dagId: string;
  runId: string;
  dataInterval: { start: Date; end: Date };
  options: DailyPicksOptions;
  log: (message: string) => void;
  signal?: AbortSignal;
}

export function pathsFor(resources: TaskConnections, step: StepContext): ArtifactPaths {
  return new ArtifactPaths(resources.config.artifactsDir, step.dagId);
}

/** extract: workout history (incremental, per day) plus this run's class and member snapshots. */
export async function extractStep(resources: TaskConnections, step: StepContext): Promise<ExtractResult> {
  return extractHistory(resources.db, resources.pool, {
    paths: pathsFor(resources, step),
    runId: step.runId,
    interval: step.dataInterval,
    historyWindowDays: step.options.historyWindowDays,
    log: step.log,
  });
}

/** The run's data clock (`dataClock` of its as-of time and the data's last interaction), epoch ms. */
function runClock(extract: ExtractResult): number {
  return dataClock(Date.parse(extract.asOf), extract.dataEnd ? Date.parse(extract.dataEnd) : null);
}

/**
 * The run's catalogue and history, and `asOf`: the clock every decay and window is measured
 * from (`dataClock`: the run's as-of time, or the end of the data's last day when the data ended
 * long before it). `runAsOf` is the run's own as-of time (what the history is cut at).
 */
export async function loadInputs(extract: ExtractResult, options: DailyPicksOptions) {
  const catalogue = await Catalogue.load(extract.classesFile);
  const runAsOf = new Date(extract.asOf);
  const clock = runClock(extract);
  const history = await History.load(catalogue, {
    workoutsDir: extract.workoutsDir,
    membersFile: extract.membersFile,
    asOf: runAsOf,
    historyWindowDays: options.historyWindowDays,
    windowEnd: new Date(clock),
  });
  return { catalogue, history, asOf: clock, runAsOf: runAsOf.getTime() };
}

export type HeuristicsResult = {
  /** Ranking artifact (see ranking-file.ts) of every member with history. */
  rankingFile: string;
  membersRanked: number;
  classes: number;
  workouts: number;
  seconds: number;
};

/**
 * heuristics: scores every class for every member with history by their usual discipline,
 * duration and instructor (see HeuristicScorer) and keeps the top `candidateDepth`, classes
 * already taken excluded. Members are scored one at a time: memory is one score vector.
 */
export async function heuristicsStep(resources: TaskConnections, step: StepContext, extract: ExtractResult): Promise<HeuristicsResult> {
  const started = performance.now();
  const { catalogue, history, asOf } = await loadInputs(extract, step.options);
  step.log(`history: ${history.workoutCount} workouts of ${history.memberCount} members over ${catalogue.size} classes (${history.unknownClassWorkouts} workouts of unknown classes skipped)`);
  const popularity = computePopularity(catalogue, history, asOf);
  const scorer = new HeuristicScorer(catalogue, popularity, asOf);
  const top = new TopN(step.options.candidateDepth, catalogue.airedAt);
  const rankingFile = pathsFor(resources, step).runFile(step.runId, 'ranking-heuristics.arrow');
  const writer = await RankingWriter.create(rankingFile, step.options.memberBatchSize);
  const excluded = new Uint8Array(catalogue.size);
  const topScores = new Float32Array(step.options.candidateDepth);
  for (let m = 0; m < history.memberCount; m++) {
    const { start, end } = history.workoutsOf(m);
    if (end === start) continue;
    if ((m & 1023) === 0) step.signal?.throwIfAborted();
    const profile = profileOf(catalogue, history, m);
    for (const c of profile.taken) excluded[c] = 1;
    const scores = scorer.score(profile, excluded);
    const best = top.select(scores);
    for (let j = 0; j < best.length; j++) topScores[j] = scores[best[j]!]!;
    await writer.add(history.memberIds[m]!, best, topScores.subarray(0, best.length));
    for (const c of profile.taken) excluded[c] = 0;
  }
  await writer.close();
  const seconds = (performance.now() - started) / 1000;
  step.log(`ranked ${writer.members} members (top ${step.options.candidateDepth}) in ${seconds.toFixed(1)} s`);
  return { rankingFile, membersRanked: writer.members, classes: catalogue.size, workouts: history.workoutCount, seconds };
}

/** A model version's ranking of the members an experiment assigns to it (a variant). */
export type VersionModelRanking = {
  version: string;
  /** Ranking artifacts (per shard, per candidate of the version's plan), read in order. */
  rankingFiles: string[];
  candidates: ServingCandidate[];
};

/** A model's ranking, when the ranker produced one for this run (or the last good model did). */
export type ModelRanking = {
  /** Ranking artifacts (per shard, per candidate), read in order. */
  rankingFiles: string[];
  modelVersion: string;
  /** Which candidate ranked each of `rankingFiles` (same order); absent: all by the ranker. */
  candidates?: ServingCandidate[];
  /** The rankings by the model versions live experiments name as variants (those that could serve). */
  versions?: VersionModelRanking[];
};

/** The picks' source and model version of a candidate's ranking made by model version `version`. */
function sourceOf(candidate: ServingCandidate, version: string): { source: PicksSource; modelVersion: string } {
  switch (candidate) {
    case 'ranker':
      return { source: 'model', modelVersion: version };
    case 'ease':
      return { source: 'ease', modelVersion: `${version}/ease` };
    case 'baseline':
      return { source: 'baseline', modelVersion: `${version}/item_knn` };
    case 'heuristics':
    case 'popularity':
      return { source: candidate, modelVersion: candidate };
  }
}

export type RowsResult = {
  picksFile: string;
  dictionaryFile: string;
  members: number;
  picks: number;
  /** Members whose rows (those no experiment covers) came from the model, the heuristics, popularity. */
  sources: Record<PicksSource, number>;
  /** Members with history but no workout in `inactiveDays` before the data's clock (the serving plan decides what they get). */
  inactiveMembers: number;
  /** The experiments live at the data's clock: their rows and members per variant. */
  experiments: ExperimentCounts[];
  generatedAt: string;
};

/**
 * filter rows: cuts each member's ranking into the named rows and `ranked`. Members the serving
 * plan gave to a model candidate (the ranker, EASE, ItemKNN, popularity) get that ranking; the
 * others with history get the heuristics'; members without history get popular classes.
 * A member in a live experiment (at the data's clock) gets the experiment's rows from their
 * variant's ranking, tagged with the variant (see experimentRowsOf); their other rows as above.
 */
export async function rowsStep(resources: TaskConnections, step: StepContext, inputs: { extract: ExtractResult; heuristics: HeuristicsResult; model: ModelRanking | null }): Promise<RowsResult> {
  const { options } = step;
  const { catalogue, history, asOf } = await loadInputs(inputs.extract, options);
  const paths = pathsFor(resources, step);
  const picksFile = paths.runFile(step.runId, 'picks.arrow');
  const dictionaryFile = paths.runFile(step.runId, 'picks.json');
  const writer = await PicksFileWriter.create(picksFile, dictionaryFile, catalogue.classIds);
  const specs = defaultRowSpecs(options.rowSize, options.rankedSize);
  const inactiveBefore = asOf - options.inactiveDays * DAY_MS;
  const isInactive = (m: number) => !(history.lastActive(m) >= inactiveBefore);

  const popularity = computePopularity(catalogue, history, asOf);
  for (const { row, reason } of rowsUnavailable(catalogue, specs.named)) step.log(`row ${row} left out: ${reason}`);
  const reasons = { popularWindowDays: popularity.windowDays };
  const popularScorer = new HeuristicScorer(catalogue, popularity, asOf);
  // Copied: the scorer's buffer is reused by every later score() call.
  const popularScores = Float64Array.from(popularScorer.score(null));
  const popularOrder = new TopN(Math.max(options.candidateDepth, options.rankedSize * 3), catalogue.airedAt).select(popularScores);
  const popular = { classIdx: popularOrder, scores: Float64Array.from(popularOrder, (c) => popularScores[c]!) };
  const cutter = new RowCutter({ catalogue, history, asOf, specs, popular, scorer: popularScorer, reasons });
  const variantRows = await experimentRowsOf(resources, step, { catalogue, history, asOf, cutter, heuristics: inputs.heuristics, model: inputs.model });

  const covered = new Uint8Array(history.memberCount);
  let inactiveMembers = 0;
  const emit = async (m: number, source: PicksSource, modelVersion: string, candidates: ArrayLike<number>, scores: ArrayLike<number>) => {
    const member = cutter.forMember(m, source === 'popularity');
    const rows = variantRows ? variantRows.rowsOf(m, member, candidates, scores) : member.cut(candidates, scores);
    await writer.add(history.memberIds[m]!, source, modelVersion, rows);
    covered[m] = 1;
  };
  const fromRanking = async (file: string, source: PicksSource, modelVersion: string) => {
    for await (const batch of readRanking(file)) {
      step.signal?.throwIfAborted();
      for (let i = 0; i < batch.memberIds.length; i++) {
        const m = history.memberIndex.get(batch.memberIds[i]!);
        if (m === undefined || covered[m] === 1) continue;
        const from = batch.offsets[i]!;
        const to = batch.offsets[i + 1]!;
        await emit(m, source, modelVersion, batch.classIdx.subarray(from, to), batch.scores.subarray(from, to));
      }
    }
  };
  if (inputs.model) {
    const { rankingFiles, candidates, modelVersion } = inputs.model;
    for (let i = 0; i < rankingFiles.length; i++) {
      const { source, modelVersion: version } = sourceOf(candidates?.[i] ?? 'ranker', modelVersion);
      await fromRanking(rankingFiles[i]!, source, version);
    }
  }
  await fromRanking(inputs.heuristics.rankingFile, 'heuristics', 'heuristics');
  for (let m = 0; m < history.memberCount; m++) {
    const { start, end } = history.workoutsOf(m);
    if (end > start && isInactive(m)) inactiveMembers += 1;
    if (covered[m] === 1) continue;
    await emit(m, 'popularity', 'popularity', popular.classIdx, popular.scores);
  }
  const generatedAt = new Date();
  const popularRows = cutRows({ catalogue, profile: profileFromWorkouts(catalogue, [], Number.NaN), asOf, candidates: popular.classIdx, scores: popular.scores, named: specs.named, ranked: specs.ranked, reasons }).map((row) => ({
    row: row.row,
    picks: row.picks.map((p) => ({ classId: catalogue.classIds[p.classIdx]!, score: p.score, reason: p.reason })),
  }));
  const dictionary = await writer.close({ generatedAt, runId: step.runId, popularRows });
  const bySource = Object.entries(writer.counts).filter(([, n]) => n > 0).map(([source, n]) => `${source} ${n}`).join(', ');
  step.log(`rows: ${writer.picks} picks for ${dictionary.members.length} members (${bySource}; ${inactiveMembers} inactive)`);
  const experiments = variantRows?.summary() ?? [];
  for (const e of experiments) step.log(`experiment ${e.key}: ${Object.entries(e.variants).map(([variant, n]) => `${variant} ${n}`).join(', ')} members`);
  return { picksFile, dictionaryFile, members: dictionary.members.length, picks: writer.picks, sources: { ...writer.counts }, inactiveMembers, experiments, generatedAt: generatedAt.toISOString() };
}

/** The variant rows of the live experiments, prepared before the rows are cut; null when none is live. */
async function experimentRowsOf(
  resources: TaskConnections,
  step: StepContext,
  run: { catalogue: Catalogue; history: History; asOf: number; cutter: RowCutter; heuristics: HeuristicsResult; model: ModelRanking | null },
): Promise<VariantRows | null> {
  const experiments = new ExperimentRows(await activeExperiments(resources.db, new Date(run.asOf)), step.log);
  if (experiments.size === 0) {
    step.log(`no experiment is live at ${new Date(run.asOf).toISOString()}`);
    return null;
  }
  step.log(`experiments live at ${new Date(run.asOf).toISOString()}: ${experiments.describe().join('; ')}`);
  const versions = new Map(
    (run.model?.versions ?? []).map((v) => [v.version, v.rankingFiles.map((file, i) => ({ file, popularity: sourceOf(v.candidates[i] ?? 'ranker', v.version).source === 'popularity' }))] as const),
  );
  return VariantRows.prepare({ ...run, experiments, heuristicsFile: run.heuristics.rankingFile, versions, ignoreAware: step.options.ignoreAware, db: resources.db, log: step.log, signal: step.signal });
}

export type AttributeConversionsResult = {
  /** The run's data clock: workouts before it were attributed, and the retention counts from it. */
  clock: string;
  conversions: number;
  workoutsScanned: number;
  retentionDays: number;
  partitionsDropped: number;
};

/**
 * attribute conversions: the workouts of the last days attributed to the impressions they
 * followed (stored once per workout), then the feedback partitions older than the retention
 * dropped, both as of the run's data clock (simulated days work like real ones).
 */
export async function attributeConversionsStep(resources: TaskConnections, step: StepContext, extract: ExtractResult): Promise<AttributeConversionsResult> {
  const clock = new Date(runClock(extract));
  const attributed = await attributeConversions(resources.db, { until: clock });
  step.log(`conversions: ${attributed.conversions} new of ${attributed.workoutsScanned} workouts before ${clock.toISOString()}`);
  const retentionDays = resources.config.feedbackRetentionDays;
  const partitionsDropped = await dropExpiredFeedback(resources.db, { now: clock, retentionDays });
  step.log(`retention ${retentionDays} days: ${partitionsDropped} feedback partitions dropped`);
  return { clock: clock.toISOString(), conversions: attributed.conversions, workoutsScanned: attributed.workoutsScanned, retentionDays, partitionsDropped };
}

/** publish: swaps the run's picks in atomically and fills the serving cache. */
export async function publishStep(resources: TaskConnections, step: StepContext, rows: RowsResult): Promise<PublishResult> {
  return publishPicks(resources.db, resources.pool, resources.redis, {
    dagId: step.dagId,
    runId: step.runId,
    picksFile: rows.picksFile,
    dictionaryFile: rows.dictionaryFile,
    cachePrefix: resources.config.queuePrefix,
    log: step.log,
  });
}
