import type { Catalogue } from '../data/catalogue.ts';
import { computePopularity, HeuristicScorer } from '../baselines/heuristics.ts';
import { History } from '../data/history.ts';
import { profileOf } from '../data/profiles.ts';
import { TopN } from '../data/top-n.ts';
import { ItemKnn, recencyWeights } from '../baselines/item-knn.ts';
import { firstAtOrAfter } from '../ranker/member-context.ts';
import { RankerScorer, type RankerModel } from '../ranker/scorer.ts';
import { ndcgAtK, RankingEvaluator } from './metrics.ts';
import { DAY_MS } from '../data/time.ts';
import { Ease } from '../baselines/ease.ts';

/**
 * A time-based holdout: models see workouts before `testFrom`; each evaluated member's relevant
 * classes are those they took in [testFrom, testTo) that they had not taken before and that had
 * aired by `testFrom` (every candidate ranks the same catalogue).
 */
export interface HoldoutSplit {
  /**
   * `time`: everyone's workouts in [testFrom, testTo); `latest`: a sample of members' latest
   * interactions, wherever they fall in time (sparse data), scored as of `testFrom`.
   */
  kind?: HoldoutKind;
  testFrom: number;
  testTo: number;
  /** Workouts before `testFrom` only. */
  train: History;
  members: Int32Array;
  relevant: Set<number>[];
  /** The first relevant class each member took: calibration's "next class". */
  next: Int32Array;
  /** Classes aired before `testFrom` (1) — the ones candidates may rank. */
  onOffer: Uint8Array;
}

export type HoldoutKind = 'time' | 'latest';

export interface HoldoutOptions {
  /** At most this many members are evaluated (an evenly spaced sample). @defaultValue 20000 */
  maxMembers?: number;
}

export interface LatestHoldoutOptions extends HoldoutOptions {
  /** Share of each evaluated member's interactions held out, the latest ones (at least one). @defaultValue 0.15 */
  fraction?: number;
  /** Members with fewer interactions are not evaluated (they keep their history). @defaultValue 3 */
  minInteractions?: number;
}

/**
 * Latest interactions per member (Amazon Personalize's offline metrics do the same): an even
 * sample of members with enough history, each holding out the latest `fraction` of their
 * interactions; everyone else keeps all of theirs. The split's `train` is the history without the
 * held-out interactions, and every candidate scores as of `asOf`. For data whose last days are too
 * sparse to judge anything by: it evaluates members whenever they were active.
 */
export function latestInteractionsSplit(catalogue: Catalogue, history: History, asOf: number, options: LatestHoldoutOptions = {}): HoldoutSplit {
  const fraction = options.fraction ?? 0.15;
  const minInteractions = options.minInteractions ?? 3;
  const limit = options.maxMembers ?? 20_000;
  const eligible: number[] = [];
  for (let m = 0; m < history.memberCount; m++) if (history.offsets[m + 1]! - history.offsets[m]! >= minInteractions) eligible.push(m);
  const sampled = new Set(eligible.length <= limit ? eligible : Array.from({ length: limit }, (_, i) => eligible[Math.floor((i * eligible.length) / limit)]!));
  const onOffer = Uint8Array.from(catalogue.airedAt, (aired) => (Number.isNaN(aired) || aired < asOf ? 1 : 0));
  const cuts = new Int32Array(history.memberCount);
  const offsets = new Int32Array(history.memberCount + 1);
  for (let m = 0; m < history.memberCount; m++) {
    const { start, end } = history.workoutsOf(m);
    cuts[m] = sampled.has(m) ? end - Math.max(1, Math.round((end - start) * fraction)) : end;
    offsets[m + 1] = offsets[m]! + (cuts[m]! - start);
  }
  const classIdx = new Int32Array(offsets[history.memberCount]!);
  const startedAt = new Float64Array(classIdx.length);
  const members: number[] = [];
  const relevant: Set<number>[] = [];
  const next: number[] = [];
  for (let m = 0; m < history.memberCount; m++) {
    const { start, end } = history.workoutsOf(m);
    const cut = cuts[m]!;
    classIdx.set(history.classIdx.subarray(start, cut), offsets[m]);
    startedAt.set(history.startedAt.subarray(start, cut), offsets[m]);
    if (cut === end) continue;
    const found = relevantAfter(history, start, cut, end, onOffer);
    if (!found) continue;
    members.push(m);
    relevant.push(found.relevant);
    next.push(found.first);
  }
  return {
    kind: 'latest',
    testFrom: asOf,
    testTo: asOf,
    train: History.fromArrays(history.memberIds, offsets, classIdx, startedAt),
    members: Int32Array.from(members),
    relevant,
    next: Int32Array.from(next),
    onOffer,
  };
}

export interface ChosenHoldout {
  split: HoldoutSplit;
  /** Why this holdout, for the log and the registry. */
  reason: string;
}

/**
 * The time holdout (the last `holdoutDays` before `asOf`) when it has at least `minMembers`
 * members to judge by; otherwise the latest interactions of a sample of members.
 */
export function chooseHoldout(
  catalogue: Catalogue,
  history: History,
  asOf: number,
  options: { holdoutDays: number; minMembers?: number; maxMembers?: number },
): ChosenHoldout {
  const minMembers = options.minMembers ?? 200;
  const maxMembers = options.maxMembers ?? 20_000;
  const timeSplit = holdoutSplit(catalogue, history, asOf - options.holdoutDays * DAY_MS, asOf, { maxMembers });
  if (timeSplit.members.length >= minMembers) {
    return { split: timeSplit, reason: `the last ${options.holdoutDays} days: ${timeSplit.members.length} members took a new class in them` };
  }
  const latest = latestInteractionsSplit(catalogue, history, asOf, { maxMembers });
  return {
    split: latest,
    reason: `the last ${options.holdoutDays} days hold ${timeSplit.members.length} members to judge by (fewer than ${minMembers}): each of ${latest.members.length} members' latest interactions instead`,
  };
}

/**
 * A member's relevant classes among their workouts [cut, end): not taken in [start, cut) and on
 * offer; `first` is the first of them (calibration's "next class"). Null when there is none.
 */
function relevantAfter(history: History, start: number, cut: number, end: number, onOffer: Uint8Array): { relevant: Set<number>; first: number } | null {
  const taken = new Set(history.classIdx.subarray(start, cut));
  const relevant = new Set<number>();
  let first = -1;
  for (let j = cut; j < end; j++) {
    const c = history.classIdx[j]!;
    if (taken.has(c) || onOffer[c] === 0) continue;
    if (first < 0) first = c;
    relevant.add(c);
  }
  return relevant.size === 0 ? null : { relevant, first };
}

/** The member's workouts before `time`, for every member (a prefix of each CSR row). */
export function historyBefore(history: History, time: number): History {
  const offsets = new Int32Array(history.memberCount + 1);
  for (let m = 0; m < history.memberCount; m++) offsets[m + 1] = offsets[m]! + (firstAtOrAfter(history, m, time) - history.offsets[m]!);
  const classIdx = new Int32Array(offsets[history.memberCount]!);
  const startedAt = new Float64Array(classIdx.length);
  for (let m = 0; m < history.memberCount; m++) {
    const from = history.offsets[m]!;
    const n = offsets[m + 1]! - offsets[m]!;
    classIdx.set(history.classIdx.subarray(from, from + n), offsets[m]);
    startedAt.set(history.startedAt.subarray(from, from + n), offsets[m]);
  }
  return History.fromArrays(history.memberIds, offsets, classIdx, startedAt);
}

export function holdoutSplit(catalogue: Catalogue, history: History, testFrom: number, testTo: number, options: HoldoutOptions = {}): HoldoutSplit {
  const train = historyBefore(history, testFrom);
  const onOffer = Uint8Array.from(catalogue.airedAt, (aired) => (Number.isNaN(aired) || aired < testFrom ? 1 : 0));
  const members: number[] = [];
  const relevant: Set<number>[] = [];
  const next: number[] = [];
  for (let m = 0; m < history.memberCount; m++) {
    const cut = firstAtOrAfter(history, m, testFrom);
    const start = history.offsets[m]!;
    if (cut === start) continue; // no history before the test period: cold start, not what this compares
    let end = cut;
    while (end < history.offsets[m + 1]! && history.startedAt[end]! < testTo) end++;
    const found = relevantAfter(history, start, cut, end, onOffer);
    if (!found) continue;
    members.push(m);
    relevant.push(found.relevant);
    next.push(found.first);
  }
  const limit = options.maxMembers ?? 20_000;
  const keep = members.length <= limit ? members.map((_, i) => i) : Array.from({ length: limit }, (_, i) => Math.floor((i * members.length) / limit));
  return {
    kind: 'time',
    testFrom,
    testTo,
    train,
    members: Int32Array.from(keep, (i) => members[i]!),
    relevant: keep.map((i) => relevant[i]!),
    next: Int32Array.from(keep, (i) => next[i]!),
    onOffer,
  };
}

/** A candidate ranks the split's members; `probability` when its scores are probabilities, else its own `scores`. */
export interface RankedBatch {
  ranked: ArrayLike<number>[];
  probability?: ArrayLike<number>[];
  scores?: ArrayLike<number>[];
}

/**
 * The whole history as a split with nobody held out, scored as of `clock`: what the serving
 * candidates rank from (the same code that ranked them on the holdout). Classes on offer are those
 * aired before `runAsOf`.
 */
export function servingSplit(catalogue: Catalogue, history: History, clock: number, runAsOf: number = clock): HoldoutSplit {
  return {
    kind: 'time',
    testFrom: clock,
    testTo: clock,
    train: history,
    members: new Int32Array(0),
    relevant: [],
    next: new Int32Array(0),
    onOffer: Uint8Array.from(catalogue.airedAt, (aired) => (Number.isNaN(aired) || aired < runAsOf ? 1 : 0)),
  };
}

export interface HoldoutCandidate {
  name: string;
  /** Ranks a batch of members (indices into the split's history), `depth` classes each. */
  rank(members: Int32Array, depth: number): RankedBatch;
  dispose?(): void;
}

/**
 * Metrics of every candidate on the split, keyed by candidate name. `perMember`, when given,
 * receives each candidate's NDCG@10 per evaluated member (in `split.members` order): what the
 * per-segment serving decision compares.
 */
export function evaluateHoldout(
  split: HoldoutSplit,
  catalogueSize: number,
  candidates: HoldoutCandidate[],
  options: { depth?: number; batchSize?: number; perMember?: Map<string, Float64Array> } = {},
): Record<string, Record<string, number>> {
  const depth = options.depth ?? 100;
  const batchSize = options.batchSize ?? 1024;
  const result: Record<string, Record<string, number>> = {};
  const offered = split.onOffer.reduce((a, b) => a + b, 0);
  for (const candidate of candidates) {
    const evaluator = new RankingEvaluator();
    const memberNdcg = new Float64Array(split.members.length);
    for (let s = 0; s < split.members.length; s += batchSize) {
      const members = split.members.subarray(s, Math.min(split.members.length, s + batchSize));
      const batch = candidate.rank(members, depth);
      for (let i = 0; i < members.length; i++) {
        memberNdcg[s + i] = ndcgAtK(batch.ranked[i]!, split.relevant[s + i]!, 10);
        const probability = batch.probability?.[i];
        evaluator.add({
          ranked: batch.ranked[i]!,
          relevant: split.relevant[s + i]!,
          ...(probability ? { scores: probability, next: split.next[s + i]! } : {}),
        });
      }
    }
    // Coverage of the classes on offer: distinct recommended classes (any index) over how many there were.
    const metrics = evaluator.result(catalogueSize);
    for (const key of Object.keys(metrics)) if (key.startsWith('coverage@') && offered > 0) metrics[key] = (metrics[key]! * catalogueSize) / offered;
    result[candidate.name] = metrics;
    options.perMember?.set(candidate.name, memberNdcg);
    candidate.dispose?.();
  }
  return result;
}

function excludedFor(split: HoldoutSplit, m: number, into: Uint8Array): number[] {
  const { start, end } = split.train.workoutsOf(m);
  const taken = Array.from(split.train.classIdx.subarray(start, end));
  for (const c of taken) into[c] = 1;
  return taken;
}

/** Popularity (the heuristics' scorer without a profile): the same list for everyone, taken classes excluded. */
export function popularityCandidate(catalogue: Catalogue, split: HoldoutSplit): HoldoutCandidate {
  return heuristicCandidate(catalogue, split, 'popularity', false);
}

/** The pipeline's heuristics as of the split, on the same history. */
export function heuristicsCandidate(catalogue: Catalogue, split: HoldoutSplit): HoldoutCandidate {
  return heuristicCandidate(catalogue, split, 'heuristics', true);
}

function heuristicCandidate(catalogue: Catalogue, split: HoldoutSplit, name: string, personal: boolean): HoldoutCandidate {
  const popularity = computePopularity(catalogue, split.train, split.testFrom);
  const scorer = new HeuristicScorer(catalogue, popularity, split.testFrom);
  const excluded = Uint8Array.from(split.onOffer, (o) => (o === 1 ? 0 : 1));
  return {
    name,
    rank(members, depth) {
      const top = new TopN(depth, catalogue.airedAt);
      const ranked: Int32Array[] = [];
      const probability: Float32Array[] = [];
      for (const m of members) {
        const taken = excludedFor(split, m, excluded);
        const scores = scorer.score(personal ? profileOf(catalogue, split.train, m) : null, excluded);
        const best = top.select(scores);
        ranked.push(best);
        probability.push(Float32Array.from(best, (c) => scores[c]!));
        for (const c of taken) excluded[c] = 0;
      }
      return { ranked, probability };
    },
  };
}

/**
 * A candidate whose own scores (not probabilities) rank each member: `scoreMember` fills every
 * class's score from the member's training history [start, end); taken and unaired classes are
 * left out of the ranking.
 */
function scoringCandidate(name: string, catalogue: Catalogue, split: HoldoutSplit, scoreMember: (start: number, end: number, scores: Float64Array) => void): HoldoutCandidate {
  const excluded = Uint8Array.from(split.onOffer, (o) => (o === 1 ? 0 : 1));
  const scores = new Float64Array(catalogue.size);
  return {
    name,
    rank(members, depth) {
      const top = new TopN(depth, catalogue.airedAt);
      const ranked: Int32Array[] = [];
      const chosen: Float32Array[] = [];
      for (const m of members) {
        const { start, end } = split.train.workoutsOf(m);
        const taken = excludedFor(split, m, excluded);
        scoreMember(start, end, scores);
        const best = top.select(scores, excluded);
        ranked.push(best);
        chosen.push(Float32Array.from(best, (c) => scores[c]!));
        for (const c of taken) excluded[c] = 0;
      }
      return { ranked, scores: chosen };
    },
  };
}

/** ItemKNN fitted on the split's training part, scoring a member's 30-day recency-weighted history. */
export function itemKnnCandidate(catalogue: Catalogue, split: HoldoutSplit): HoldoutCandidate {
  const knn = ItemKnn.fit(split.train, catalogue.size);
  // Classes no neighbour reaches score 0: rank them by nothing rather than at random.
  return scoringCandidate('baseline', catalogue, split, (start, end, scores) =>
    knn.score(split.train.classIdx.subarray(start, end), recencyWeights(split.train.startedAt, start, end, split.testFrom), scores),
  );
}

/** A trained ranker scored as of the split (its probabilities are calibrated). */
export function rankerCandidate(name: string, model: RankerModel, catalogue: Catalogue, split: HoldoutSplit, batchSize = 1024): HoldoutCandidate {
  const scorer = new RankerScorer(model, catalogue, split.testFrom, batchSize);
  return {
    name,
    rank(members, depth) {
      const ends = Int32Array.from(members, (m) => split.train.offsets[m + 1]!);
      const batch = scorer.score(split.train, members, ends, depth);
      const ranked: Int32Array[] = [];
      const probability: Float32Array[] = [];
      for (let i = 0; i < members.length; i++) {
        const from = i * batch.k;
        ranked.push(batch.classIdx.slice(from, from + batch.counts[i]!));
        probability.push(batch.probability.slice(from, from + batch.counts[i]!));
      }
      return { ranked, probability };
    },
    dispose: () => scorer.dispose(),
  };
}

/**
 * Half-life, in interactions, of the weight of a member's history in EASE's scores: the latest
 * few interactions say most about the next. Measured per-member temporal splits, NDCG@10 without /
 * with: ml-100k 0.1960 / 0.2460, first half of ml-1m 0.1418 / 0.2198, ml-latest-small 0.1278 / 0.1423.
 */
export const EASE_HALF_LIFE = 5;

/** Weights 0.5^(age / halfLife) of `n` interactions, oldest first (the newest has age 0), into `out`. */
function positionWeights(n: number, halfLife: number, out: Float64Array): Float64Array {
  const weights = out.length >= n ? out.subarray(0, n) : new Float64Array(n);
  for (let j = 0; j < n; j++) weights[j] = 0.5 ** ((n - 1 - j) / halfLife);
  return weights;
}

/**
 * EASE fitted on the split's training part (the most-interacted items when the catalogue is large),
 * scoring a member's history recency-weighted with `halfLife` (null: unweighted); its scores are
 * not probabilities.
 */
export function easeCandidate(catalogue: Catalogue, split: HoldoutSplit, model: Ease = Ease.fit(split.train, catalogue.size), halfLife: number | null = EASE_HALF_LIFE): HoldoutCandidate {
  const weights = new Float64Array(1024);
  return scoringCandidate('ease', catalogue, split, (start, end, scores) =>
    model.score(split.train.classIdx.subarray(start, end), halfLife === null ? null : positionWeights(end - start, halfLife, weights), scores),
  );
}
