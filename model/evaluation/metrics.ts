/**
 * Offline ranking metrics for the holdout evaluation: recall and nDCG at k, catalogue coverage,
 * and calibration (expected calibration error over equal-count bins). Pure; the evaluation
 * feeds one member at a time and `RankingEvaluator.result` gives the numbers the model
 * registry stores (finite only).
 */

/**
 * Share of the relevant classes found in the first `k` ranked ones. A class ranked twice counts
 * once, so the result stays in [0, 1].
 * @throws when `relevant` is empty (the metric is undefined; callers skip such members) or `k` is not a positive integer.
 */
export function recallAtK(ranked: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  checkCutoff(k);
  if (relevant.size === 0) throw new Error('recallAtK: no relevant classes (skip the member)');
  return countHits(ranked, relevant, k, null) / relevant.size;
}

/**
 * Normalised discounted cumulative gain at `k` with binary relevance:
 * DCG = Σ_{i<k, ranked[i] relevant} 1/log2(i+2), divided by the DCG of an ideal ranking, which
 * puts min(k, |relevant|) relevant classes first. A class ranked twice gains only at its first place.
 * @throws when `relevant` is empty or `k` is not a positive integer.
 */
export function ndcgAtK(ranked: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  checkCutoff(k);
  if (relevant.size === 0) throw new Error('ndcgAtK: no relevant classes (skip the member)');
  const gain = { dcg: 0 };
  countHits(ranked, relevant, k, gain);
  let ideal = 0;
  const n = Math.min(k, relevant.size);
  for (let i = 0; i < n; i++) ideal += 1 / Math.log2(i + 2);
  return gain.dcg / ideal;
}

/** Hits in the first k, each relevant class once; adds the discounted gains to `gain` when given. */
function countHits(ranked: ArrayLike<number>, relevant: ReadonlySet<number>, k: number, gain: { dcg: number } | null): number {
  const n = Math.min(k, ranked.length);
  let hits = 0;
  let seen: Set<number> | null = null;
  for (let i = 0; i < n; i++) {
    const c = ranked[i]!;
    if (!relevant.has(c)) continue;
    // Rankings normally hold no repeats; the set is only built once there is a hit to remember.
    seen ??= new Set<number>();
    if (seen.has(c)) continue;
    seen.add(c);
    hits += 1;
    if (gain !== null) gain.dcg += 1 / Math.log2(i + 2);
  }
  return hits;
}

function checkCutoff(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
}

/** Which classes appear in anyone's top k: the share of the catalogue a ranker ever shows. */
export class CoverageCounter {
  private seen = new Uint8Array(1024);
  private count = 0;

  /** Marks the first `k` ranked classes (class indices are non-negative integers). */
  add(ranked: ArrayLike<number>, k: number): void {
    checkCutoff(k);
    const n = Math.min(k, ranked.length);
    for (let i = 0; i < n; i++) {
      const c = ranked[i]!;
      if (!Number.isInteger(c) || c < 0) throw new Error(`CoverageCounter: class index must be a non-negative integer, got ${c}`);
      if (c >= this.seen.length) {
        const grown = new Uint8Array(Math.max(this.seen.length * 2, c + 1));
        grown.set(this.seen);
        this.seen = grown;
      }
      if (this.seen[c] === 0) {
        this.seen[c] = 1;
        this.count += 1;
      }
    }
  }

  /** Distinct classes seen so far. */
  get distinct(): number {
    return this.count;
  }

  /** Distinct classes shown / catalogue size; classes at or past `catalogueSize` are not counted. */
  coverage(catalogueSize: number): number {
    if (!Number.isInteger(catalogueSize) || catalogueSize < 1) throw new Error(`catalogueSize must be a positive integer, got ${catalogueSize}`);
    let inside = this.count;
    for (let c = catalogueSize; c < this.seen.length; c++) inside -= this.seen[c]!;
    return inside / catalogueSize;
  }
}

/**
 * (predicted probability, observed 0/1) pairs, for calibration. Stored as typed columns so
 * millions of pairs cost a few bytes each.
 */
export class CalibrationAccumulator {
  private p = new Float32Array(1024);
  private y = new Uint8Array(1024);
  private n = 0;
  private positives = 0;
  private sumP = 0;

  add(predicted: number, observed: number | boolean): void {
    if (!(predicted >= 0 && predicted <= 1)) throw new Error(`CalibrationAccumulator: probability must be in [0, 1], got ${predicted}`);
    const y = observed === true || observed === 1 ? 1 : observed === false || observed === 0 ? 0 : -1;
    if (y < 0) throw new Error(`CalibrationAccumulator: observation must be 0 or 1, got ${String(observed)}`);
    if (this.n === this.p.length) {
      const p = new Float32Array(this.n * 2);
      p.set(this.p);
      this.p = p;
      const o = new Uint8Array(this.n * 2);
      o.set(this.y);
      this.y = o;
    }
    // Means use the stored (float32) value so they agree with the binned error.
    this.p[this.n] = predicted;
    this.sumP += this.p[this.n]!;
    this.y[this.n] = y;
    this.positives += y;
    this.n += 1;
  }

  get count(): number {
    return this.n;
  }

  /** Mean predicted probability (NaN with no pairs); against `meanObserved` it is calibration-in-the-large. */
  get meanPredicted(): number {
    return this.n === 0 ? Number.NaN : this.sumP / this.n;
  }

  /** Share of positive observations (NaN with no pairs). */
  get meanObserved(): number {
    return this.n === 0 ? Number.NaN : this.positives / this.n;
  }

  /**
   * Expected calibration error over `bins` equal-count bins of the pairs sorted by probability:
   * Σ_b (n_b/N)·|mean p_b − mean y_b|. Equal-count bins, because ranker probabilities crowd near
   * zero and fixed-width bins would leave most bins empty and one bin holding nearly everything.
   *
   * Pairs with equal probabilities have no order, so where a run of ties straddles a bin
   * boundary its positives are shared between the bins in proportion (the expectation over tie
   * orders) rather than by insertion order; otherwise all p = 0.5 with half the y = 1 could score
   * anything from 0 to 0.5. NaN with no pairs.
   * @param bins number of bins (fewer pairs than bins leaves some empty, which weigh nothing)
   */
  expectedCalibrationError(bins = 15): number {
    checkCutoff(bins);
    const n = this.n;
    if (n === 0) return Number.NaN;
    // Sort the probabilities and, separately, those of the positives: native typed-array sorts,
    // far cheaper than sorting an index by comparator for millions of pairs.
    const all = this.p.slice(0, n).sort();
    const pos = new Float32Array(this.positives);
    for (let i = 0, j = 0; i < n; i++) if (this.y[i] === 1) pos[j++] = this.p[i]!;
    pos.sort();
    /** Expected positives among the first `i` sorted pairs. */
    const positivesBefore = (i: number): number => {
      if (i === 0) return 0;
      if (i === n) return pos.length;
      const v = all[i - 1]!;
      const tieStart = lowerBound(all, v);
      const tieEnd = upperBound(all, v);
      const below = lowerBound(pos, v);
      const tied = upperBound(pos, v) - below;
      return below + (tied * (i - tieStart)) / (tieEnd - tieStart);
    };
    let error = 0;
    let cursor = 0;
    let lo = 0;
    let positivesLo = 0;
    for (let b = 1; b <= bins; b++) {
      const hi = Math.floor((b * n) / bins);
      if (hi === lo) continue;
      let sumP = 0;
      for (; cursor < hi; cursor++) sumP += all[cursor]!;
      const positivesHi = positivesBefore(hi);
      // n_b/N · |Σp/n_b − Σy/n_b| = |Σp − Σy| / N
      error += Math.abs(sumP - (positivesHi - positivesLo));
      lo = hi;
      positivesLo = positivesHi;
    }
    return error / n;
  }
}

/** First index whose value is ≥ v (sorted ascending). */
function lowerBound(sorted: Float32Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > v (sorted ascending). */
function upperBound(sorted: Float32Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface RankingEvaluatorOptions {
  /**
   * Cut-offs for nDCG; each gives a key `ndcg@k`.
   * @defaultValue [10]
   */
  ndcgAt?: readonly number[];
  /**
   * Cut-offs for recall; each gives a key `recall@k`.
   * @defaultValue [10, 50]
   */
  recallAt?: readonly number[];
  /**
   * Cut-offs for catalogue coverage; each gives a key `coverage@k`.
   * @defaultValue [10]
   */
  coverageAt?: readonly number[];
  /**
   * How many of each member's top-ranked classes (with their probabilities) enter calibration.
   * @defaultValue 100
   */
  calibrationDepth?: number;
  /**
   * Equal-count bins for the expected calibration error.
   * @defaultValue 15
   */
  calibrationBins?: number;
}

/** One member's ranking in a holdout evaluation. */
export interface RankedMember {
  /** Class indices, best first. */
  ranked: ArrayLike<number>;
  /**
   * The ranker's probability that each ranked class is the member's next one, in the order of
   * `ranked` (at least the first `calibrationDepth`). Omit for rankers without probabilities.
   */
  scores?: ArrayLike<number>;
  /** Classes the member took in the holdout period and had not taken before; must not be empty. */
  relevant: ReadonlySet<number>;
  /** The first relevant class the member took: the positive for calibration. Required with `scores`. */
  next?: number;
}

/**
 * Accumulates one candidate ranker's holdout metrics, member by member. Recall and nDCG are
 * averaged over members; coverage is over everyone's top k; calibration pools every member's
 * top `calibrationDepth` (probability, was-it-next) pairs and is reported only when every
 * member came with probabilities.
 */
export class RankingEvaluator {
  private readonly ndcgAt: readonly number[];
  private readonly recallAt: readonly number[];
  private readonly coverageAt: readonly number[];
  private readonly calibrationDepth: number;
  private readonly calibrationBins: number;
  private readonly ndcgSums: Float64Array;
  private readonly recallSums: Float64Array;
  private readonly coverage: CoverageCounter[];
  private readonly calibration = new CalibrationAccumulator();
  private members = 0;
  private scoredMembers = 0;

  constructor(options: RankingEvaluatorOptions = {}) {
    this.ndcgAt = options.ndcgAt ?? [10];
    this.recallAt = options.recallAt ?? [10, 50];
    this.coverageAt = options.coverageAt ?? [10];
    this.calibrationDepth = options.calibrationDepth ?? 100;
    this.calibrationBins = options.calibrationBins ?? 15;
    for (const k of [...this.ndcgAt, ...this.recallAt, ...this.coverageAt, this.calibrationDepth, this.calibrationBins]) checkCutoff(k);
    this.ndcgSums = new Float64Array(this.ndcgAt.length);
    this.recallSums = new Float64Array(this.recallAt.length);
    this.coverage = this.coverageAt.map(() => new CoverageCounter());
  }

  add(input: RankedMember): void {
    const { ranked, scores, relevant, next } = input;
    if (relevant.size === 0) throw new Error('RankingEvaluator: no relevant classes (skip the member)');
    const depth = Math.min(this.calibrationDepth, ranked.length);
    if (scores !== undefined) {
      if (next === undefined) throw new Error('RankingEvaluator: scores need `next`, the class that counts as the positive');
      if (scores.length < depth) throw new Error(`RankingEvaluator: ${scores.length} scores for the first ${depth} ranked classes`);
      // Checked before anything is added, so a bad member leaves the totals as they were.
      for (let i = 0; i < depth; i++) {
        if (!(scores[i]! >= 0 && scores[i]! <= 1)) throw new Error(`RankingEvaluator: score ${scores[i]} at rank ${i} is not a probability`);
      }
    }
    this.ndcgAt.forEach((k, i) => (this.ndcgSums[i]! += ndcgAtK(ranked, relevant, k)));
    this.recallAt.forEach((k, i) => (this.recallSums[i]! += recallAtK(ranked, relevant, k)));
    this.coverageAt.forEach((k, i) => this.coverage[i]!.add(ranked, k));
    if (scores !== undefined) {
      for (let i = 0; i < depth; i++) this.calibration.add(scores[i]!, ranked[i] === next ? 1 : 0);
      this.scoredMembers += 1;
    }
    this.members += 1;
  }

  /**
   * The metrics so far, keyed `ndcg@k`, `recall@k`, `coverage@k`, `members`, and — when every
   * member came with probabilities — `ece`, `meanPredicted`, `meanObserved`. All finite: with no
   * members the averages are 0.
   */
  result(catalogueSize: number): Record<string, number> {
    const out: Record<string, number> = {};
    const per = (sum: number) => (this.members === 0 ? 0 : sum / this.members);
    this.ndcgAt.forEach((k, i) => (out[`ndcg@${k}`] = per(this.ndcgSums[i]!)));
    this.recallAt.forEach((k, i) => (out[`recall@${k}`] = per(this.recallSums[i]!)));
    this.coverageAt.forEach((k, i) => (out[`coverage@${k}`] = this.coverage[i]!.coverage(catalogueSize)));
    out['members'] = this.members;
    if (this.members > 0 && this.scoredMembers === this.members && this.calibration.count > 0) {
      out['ece'] = this.calibration.expectedCalibrationError(this.calibrationBins);
      out['meanPredicted'] = this.calibration.meanPredicted;
      out['meanObserved'] = this.calibration.meanObserved;
    }
    return out;
  }
}
