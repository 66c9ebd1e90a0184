import type { Catalogue } from '../data/catalogue.ts';
import type { History } from '../data/history.ts';
import type { MemberProfile } from '../data/profiles.ts';
import { DAY_MS } from '../data/time.ts';

/** Popularity of each class at the as-of time: workouts per day over a recent window. */
export interface Popularity {
  /** Workouts per day the class has been available in the window (+ a small prior). */
  rate: Float64Array;
  /** Shares of the catalogue's disciplines / durations / instructors among all workouts (priors). */
  disciplineShare: Float64Array;
  durationShare: Float64Array;
  instructorShare: Float64Array;
}

export interface PopularityOptions {
  /** @defaultValue 14 */
  windowDays?: number;
}

/** Class popularity and feature priors from the history, as of `asOf`. */
export function computePopularity(catalogue: Catalogue, history: History, asOf: number, options: PopularityOptions = {}): Popularity {
  const windowDays = options.windowDays ?? 14;
  const windowStart = asOf - windowDays * DAY_MS;
  const recent = new Float64Array(catalogue.size);
  const all = new Float64Array(catalogue.size);
  const n = history.workoutCount;
  for (let i = 0; i < n; i++) {
    const c = history.classIdx[i]!;
    if (history.startedAt[i]! >= windowStart) recent[c]! += 1;
    all[c]! += 1;
  }
  return popularityFromCounts(catalogue, recent, all, asOf, options);
}

/**
 * Popularity from per-class counts: `recent` workouts in the window, and `all` workouts
 * (for the discipline / duration / instructor priors).
 */
export function popularityFromCounts(catalogue: Catalogue, recent: Float64Array, all: Float64Array, asOf: number, options: PopularityOptions = {}): Popularity {
  const windowDays = options.windowDays ?? 14;
  const disciplineShare = new Float64Array(catalogue.disciplines.length + 1);
  const durationShare = new Float64Array(catalogue.durations.length + 1);
  const instructorShare = new Float64Array(catalogue.instructors.length + 1);
  for (let c = 0; c < catalogue.size; c++) {
    const count = all[c]!;
    if (count === 0) continue;
    disciplineShare[catalogue.discipline[c]! + 1]! += count;
    durationShare[catalogue.durationIdx[c]! + 1]! += count;
    instructorShare[catalogue.instructor[c]! + 1]! += count;
  }
  const normalise = (shares: Float64Array) => {
    // Laplace smoothing: a value nobody took yet still has a small prior.
    const total = shares.reduce((a, b) => a + b, 0) + shares.length;
    for (let i = 0; i < shares.length; i++) shares[i] = (shares[i]! + 1) / total;
  };
  normalise(disciplineShare);
  normalise(durationShare);
  normalise(instructorShare);
  const rate = new Float64Array(catalogue.size);
  for (let c = 0; c < catalogue.size; c++) {
    const aired = catalogue.airedAt[c]!;
    // A class that aired three days ago had three days to be taken, not fourteen.
    const availableDays = Number.isNaN(aired) ? windowDays : Math.min(windowDays, Math.max(1, (asOf - aired) / DAY_MS));
    rate[c] = (recent[c]! + 0.1) / availableDays;
  }
  return { rate, disciplineShare, durationShare, instructorShare };
}

export interface HeuristicScorerOptions {
  /** Pseudo-count of the priors in the member's smoothed shares. @defaultValue 2 */
  priorStrength?: number;
  /** Exponent of popularity in the score. @defaultValue 0.5 */
  popularityWeight?: number;
  /** Exponent of the instructor share. @defaultValue 0.7 */
  instructorWeight?: number;
  /** Boost for classes aired in the last week (log scale). @defaultValue 0.3 */
  freshnessBoost?: number;
}

/**
 * The heuristic model: a class's score for a member is the product of the member's
 * (smoothed, recency-weighted) shares of its discipline, duration and instructor, times the
 * class's popularity, normalised over the catalogue into a probability that the member's next
 * class is this one. With no history it reduces to popularity.
 */
export class HeuristicScorer {
  private readonly base: Float64Array;
  private readonly logDiscipline: Float64Array;
  private readonly logDuration: Float64Array;
  private readonly logInstructor: Float64Array;
  private readonly priorDiscipline: Float64Array;
  private readonly priorDuration: Float64Array;
  private readonly priorInstructor: Float64Array;
  private readonly d: Int32Array;
  private readonly k: Int32Array;
  private readonly i: Int32Array;
  readonly scores: Float64Array;
  private readonly priorStrength: number;
  private readonly instructorWeight: number;

  constructor(
    catalogue: Catalogue,
    private readonly popularity: Popularity,
    asOf: number,
    options: HeuristicScorerOptions = {},
  ) {
    this.priorStrength = options.priorStrength ?? 2;
    this.instructorWeight = options.instructorWeight ?? 0.7;
    const popularityWeight = options.popularityWeight ?? 0.5;
    const freshness = options.freshnessBoost ?? 0.3;
    const n = catalogue.size;
    this.base = new Float64Array(n);
    for (let c = 0; c < n; c++) {
      const aired = catalogue.airedAt[c]!;
      const fresh = !Number.isNaN(aired) && asOf - aired < 7 * DAY_MS ? freshness : 0;
      this.base[c] = popularityWeight * Math.log(popularity.rate[c]!) + fresh;
    }
    // Feature slot 0 is "unknown", slot f + 1 is feature f.
    this.d = Int32Array.from(catalogue.discipline, (v) => v + 1);
    this.k = Int32Array.from(catalogue.durationIdx, (v) => v + 1);
    this.i = Int32Array.from(catalogue.instructor, (v) => v + 1);
    const logPrior = (shares: Float64Array) => Float64Array.from(shares, (s) => Math.log(this.priorStrength * s));
    this.priorDiscipline = logPrior(popularity.disciplineShare);
    this.priorDuration = logPrior(popularity.durationShare);
    this.priorInstructor = logPrior(popularity.instructorShare);
    this.logDiscipline = new Float64Array(this.priorDiscipline.length);
    this.logDuration = new Float64Array(this.priorDuration.length);
    this.logInstructor = new Float64Array(this.priorInstructor.length);
    this.scores = new Float64Array(n);
  }

  /**
   * Scores every class for the member into `this.scores` (probabilities summing to 1 over the
   * classes not excluded) and returns it. `profile === null` scores by popularity alone.
   */
  score(profile: MemberProfile | null, excluded?: Uint8Array): Float64Array {
    const { popularity, priorStrength } = this;
    const fill = (target: Float64Array, prior: Float64Array, weights: Map<number, number> | undefined, shares: Float64Array) => {
      target.set(prior);
      if (!weights) return;
      for (const [f, w] of weights) target[f + 1] = Math.log(w + priorStrength * shares[f + 1]!);
    };
    fill(this.logDiscipline, this.priorDiscipline, profile?.disciplineWeights, popularity.disciplineShare);
    fill(this.logDuration, this.priorDuration, profile?.durationWeights, popularity.durationShare);
    fill(this.logInstructor, this.priorInstructor, profile?.instructorWeights, popularity.instructorShare);
    const { base, d, k, i, scores, logDiscipline, logDuration, logInstructor } = this;
    const wi = this.instructorWeight;
    const n = scores.length;
    const withHistory = profile !== null && profile.workouts > 0;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < n; c++) {
      const s = withHistory ? base[c]! + logDiscipline[d[c]!]! + logDuration[k[c]!]! + wi * logInstructor[i[c]!]! : base[c]!;
      scores[c] = s;
      if (s > max) max = s;
    }
    let total = 0;
    for (let c = 0; c < n; c++) {
      if (excluded !== undefined && excluded[c] === 1) {
        scores[c] = Number.NEGATIVE_INFINITY;
        continue;
      }
      const e = Math.exp(scores[c]! - max);
      scores[c] = e;
      total += e;
    }
    if (total > 0) for (let c = 0; c < n; c++) scores[c] = scores[c]! / total;
    return scores;
  }
}
