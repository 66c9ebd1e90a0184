import type { Catalogue } from '../data/catalogue.ts';
import { computePopularity, HeuristicScorer } from '../baselines/heuristics.ts';
import { History } from '../data/history.ts';
import { profileOf } from '../data/profiles.ts';
import { TopN } from '../data/top-n.ts';
import { ItemKnn, recencyWeights } from '../baselines/item-knn.ts';
import { firstAtOrAfter } from '../ranker/member-context.ts';
import { RankerScorer, type RankerModel } from '../ranker/scorer.ts';
import { RankingEvaluator } from './metrics.ts';

/**
 * A time-based holdout: models see workouts before `testFrom`; each evaluated member's relevant
 * classes are those they took in [testFrom, testTo) that they had not taken before and that had
 * aired by `testFrom` (every candidate ranks the same catalogue).
 */
export interface HoldoutSplit {
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

export interface HoldoutOptions {
  /** At most this many members are evaluated (an evenly spaced sample). @defaultValue 20000 */
  maxMembers?: number;
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
    const taken = new Set(history.classIdx.subarray(start, cut));
    const wanted = new Set<number>();
    let first = -1;
    for (let j = cut; j < history.offsets[m + 1]! && history.startedAt[j]! < testTo; j++) {
      const c = history.classIdx[j]!;
      if (taken.has(c) || onOffer[c] === 0) continue;
      if (first < 0) first = c;
      wanted.add(c);
    }
    if (wanted.size === 0) continue;
    members.push(m);
    relevant.push(wanted);
    next.push(first);
  }
  const limit = options.maxMembers ?? 20_000;
  const keep = members.length <= limit ? members.map((_, i) => i) : Array.from({ length: limit }, (_, i) => Math.floor((i * members.length) / limit));
  return {
    testFrom,
    testTo,
    train,
    members: Int32Array.from(keep, (i) => members[i]!),
    relevant: keep.map((i) => relevant[i]!),
    next: Int32Array.from(keep, (i) => next[i]!),
    onOffer,
  };
}

/** A candidate ranks the split's members; `probability` when its scores are probabilities. */
export interface RankedBatch {
  ranked: ArrayLike<number>[];
  probability?: ArrayLike<number>[];
}

export interface HoldoutCandidate {
  name: string;
  /** Ranks a batch of members (indices into the split's history), `depth` classes each. */
  rank(members: Int32Array, depth: number): RankedBatch;
  dispose?(): void;
}

/** Metrics of every candidate on the split, keyed by candidate name. */
export function evaluateHoldout(split: HoldoutSplit, catalogueSize: number, candidates: HoldoutCandidate[], options: { depth?: number; batchSize?: number } = {}): Record<string, Record<string, number>> {
  const depth = options.depth ?? 100;
  const batchSize = options.batchSize ?? 1024;
  const result: Record<string, Record<string, number>> = {};
  const offered = split.onOffer.reduce((a, b) => a + b, 0);
  for (const candidate of candidates) {
    const evaluator = new RankingEvaluator();
    for (let s = 0; s < split.members.length; s += batchSize) {
      const members = split.members.subarray(s, Math.min(split.members.length, s + batchSize));
      const batch = candidate.rank(members, depth);
      for (let i = 0; i < members.length; i++) {
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

/** ItemKNN fitted on the split's training part; its scores are not probabilities. */
export function itemKnnCandidate(catalogue: Catalogue, split: HoldoutSplit): HoldoutCandidate {
  const knn = ItemKnn.fit(split.train, catalogue.size);
  const excluded = Uint8Array.from(split.onOffer, (o) => (o === 1 ? 0 : 1));
  const scores = new Float64Array(catalogue.size);
  return {
    name: 'baseline',
    rank(members, depth) {
      const top = new TopN(depth, catalogue.airedAt);
      const ranked: Int32Array[] = [];
      for (const m of members) {
        const { start, end } = split.train.workoutsOf(m);
        const taken = excludedFor(split, m, excluded);
        const weights = recencyWeights(split.train.startedAt, start, end, split.testFrom);
        knn.score(split.train.classIdx.subarray(start, end), weights, scores);
        // Classes no neighbour reaches score 0: rank them by nothing rather than at random.
        ranked.push(top.select(scores, excluded));
        for (const c of taken) excluded[c] = 0;
      }
      return { ranked };
    },
  };
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
