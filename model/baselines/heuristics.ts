import type { Catalogue } from '../data/catalogue.ts';
import type { History } from '../data/history.ts';
import type { MemberProfile } from '../data/profiles.ts';
import { DAY_MS } from '../data/time.ts';

/** Popularity of each class at the as-of time: workouts per day over a recent window. */
export interface Popularity {
  /** Workouts per day the class has been available in the window (+ a small prior). */
  rate: Float64Array;
  /**
   * Shares of the catalogue's single categories (`disciplines`) / durations / instructors among
   * all workouts (priors); slot 0 is "unknown", slot f + 1 value f. A workout of a class with
   * several categories counts towards each.
   */
  disciplineShare: Float64Array;
  durationShare: Float64Array;
  instructorShare: Float64Array;
  /**
   * Days the popularity window spans: `windowDays`, or longer where the window was stretched to
   * hold `minWindowWorkouts` (sparse or old data). Reasons say "this week" only for a short one.
   */
  windowDays: number;
}

export interface PopularityOptions {
  /** @defaultValue 14 */
  windowDays?: number;
  /**
   * The window reaches back further than `windowDays` until it holds at least this many
   * workouts (all of them if there are fewer): on sparse or old data a 14-day window holds
   * next to nothing and every class would look equally (un)popular.
   * @defaultValue 50 × the catalogue's size
   */
  minWindowWorkouts?: number;
}

/** Class popularity and feature priors from the history, as of `asOf`. */
export function computePopularity(catalogue: Catalogue, history: History, asOf: number, options: PopularityOptions = {}): Popularity {
  const n = history.workoutCount;
  const windowDays = popularityWindowDays(history, asOf, options.windowDays ?? 14, options.minWindowWorkouts ?? MIN_WINDOW_WORKOUTS_PER_CLASS * catalogue.size);
  const windowStart = asOf - windowDays * DAY_MS;
  const recent = new Float64Array(catalogue.size);
  const all = new Float64Array(catalogue.size);
  for (let i = 0; i < n; i++) {
    const c = history.classIdx[i]!;
    if (history.startedAt[i]! >= windowStart) recent[c]! += 1;
    all[c]! += 1;
  }
  return popularityFromCounts(catalogue, recent, all, asOf, { ...options, windowDays });
}

/** The default window holds at least this many workouts per class on average. */
const MIN_WINDOW_WORKOUTS_PER_CLASS = 50;

/**
 * The popularity window in days: `windowDays`, stretched back to the time of the
 * `minWorkouts`-th latest workout before `asOf` when the window holds fewer (to the first
 * workout when there are fewer in all; `windowDays` without any).
 */
export function popularityWindowDays(history: History, asOf: number, windowDays: number, minWorkouts: number): number {
  const start = asOf - windowDays * DAY_MS;
  const { startedAt } = history;
  let inWindow = 0;
  let before = 0;
  for (let i = 0; i < startedAt.length; i++) {
    const t = startedAt[i]!;
    if (t >= asOf) continue;
    if (t >= start) inWindow += 1;
    else before += 1;
  }
  if (inWindow >= minWorkouts || before === 0) return windowDays;
  // The earlier workouts, latest first: the window reaches back to the one that completes `minWorkouts`.
  const earlier = new Float64Array(before);
  let j = 0;
  for (let i = 0; i < startedAt.length; i++) {
    const t = startedAt[i]!;
    if (t < start) earlier[j++] = t;
  }
  earlier.sort();
  const needed = Math.min(before, Math.ceil(minWorkouts) - inWindow);
  const from = earlier[before - needed]!;
  return Math.max(windowDays, (asOf - from) / DAY_MS);
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
  const { categoryOffsets, categoryIdx } = catalogue;
  for (let c = 0; c < catalogue.size; c++) {
    const count = all[c]!;
    if (count === 0) continue;
    const from = categoryOffsets[c]!;
    const to = categoryOffsets[c + 1]!;
    if (from === to) disciplineShare[0]! += count;
    for (let k = from; k < to; k++) disciplineShare[categoryIdx[k]! + 1]! += count;
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
  return { rate, disciplineShare, durationShare, instructorShare, windowDays };
}

export interface HeuristicScorerOptions {
  /** Pseudo-count of the priors in the member's smoothed shares. @defaultValue 5 */
  priorStrength?: number;
  /** Exponent of popularity in the score. @defaultValue 1 */
  popularityWeight?: number;
  /** Exponent of the instructor share. @defaultValue 0.7 */
  instructorWeight?: number;
  /** Boost for classes aired in the last week (log scale). @defaultValue 0.6 */
  freshnessBoost?: number;
  /**
   * How much of the population's share each of the member's shares is divided by: 0 scores the
   * member's share itself, 1 its lift over everyone's, so a member whose tastes match everyone's
   * gets popularity alone (popularity already holds how popular a category is; without the
   * division a popular category would count twice). Below 1 a member's favourites still win
   * over a rarer value they took a little less often. @defaultValue 0.8
   */
  liftWeight?: number;
  /**
   * How the factors of a class's categories combine: `'logMean'` the log of their mean share
   * (a Comedy|Romance film suits a member who likes either), `'mean'` the mean of their log
   * shares (geometric mean: likes both), `'max'` the best one.
   * @defaultValue 'logMean'
   */
  categoryCombine?: 'mean' | 'logMean' | 'max';
}

/**
 * The heuristic model: a class's score for a member is the class's popularity times, for each of
 * its discipline, duration and instructor, the member's (smoothed, recency-weighted) share of
 * it over everyone's share — naive Bayes: P(class | member) ∝ P(class) · Π_f P(f | member) / P(f)
 * — normalised over the catalogue into a probability that the member's next class is this one.
 * A class with several categories gets the mean of their shares (see `categoryCombine`). With
 * no history, or tastes like everyone's, it reduces to popularity.
 */
export class HeuristicScorer {
  private readonly base: Float64Array;
  private readonly logDiscipline: Float64Array;
  private readonly logDuration: Float64Array;
  private readonly logInstructor: Float64Array;
  private readonly priorDiscipline: Float64Array;
  private readonly priorDuration: Float64Array;
  private readonly priorInstructor: Float64Array;
  private readonly liftDiscipline: Float64Array;
  private readonly liftDuration: Float64Array;
  private readonly liftInstructor: Float64Array;
  private readonly d: Int32Array;
  /** Category slots per class (CSR) when some class has several categories, else null. */
  private readonly categorySlots: { offsets: Int32Array; slots: Int32Array } | null;
  private readonly k: Int32Array;
  private readonly i: Int32Array;
  readonly scores: Float64Array;
  private readonly priorStrength: number;
  private readonly instructorWeight: number;
  private readonly combine: 'mean' | 'logMean' | 'max';

  constructor(
    catalogue: Catalogue,
    private readonly popularity: Popularity,
    asOf: number,
    options: HeuristicScorerOptions = {},
  ) {
    this.priorStrength = options.priorStrength ?? 5;
    this.instructorWeight = options.instructorWeight ?? 0.7;
    this.combine = options.categoryCombine ?? 'logMean';
    const popularityWeight = options.popularityWeight ?? 1;
    const freshness = options.freshnessBoost ?? 0.6;
    const liftWeight = options.liftWeight ?? 0.8;
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
    let multi = false;
    for (let c = 0; c < n && !multi; c++) multi = catalogue.categoryOffsets[c + 1]! - catalogue.categoryOffsets[c]! > 1;
    if (multi) {
      const offsets = new Int32Array(n + 1);
      const slots: number[] = [];
      for (let c = 0; c < n; c++) {
        const categories = catalogue.categoriesOf(c);
        if (categories.length === 0) slots.push(0);
        for (const category of categories) slots.push(category + 1);
        offsets[c + 1] = slots.length;
      }
      this.categorySlots = { offsets, slots: Int32Array.from(slots) };
    } else {
      this.categorySlots = null;
    }
    const logPrior = (shares: Float64Array) => Float64Array.from(shares, (s) => Math.log(this.priorStrength * s));
    const lift = (shares: Float64Array) => Float64Array.from(shares, (s) => liftWeight * Math.log(s));
    this.priorDiscipline = logPrior(popularity.disciplineShare);
    this.priorDuration = logPrior(popularity.durationShare);
    this.priorInstructor = logPrior(popularity.instructorShare);
    this.liftDiscipline = lift(popularity.disciplineShare);
    this.liftDuration = lift(popularity.durationShare);
    this.liftInstructor = lift(popularity.instructorShare);
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
    const fill = (target: Float64Array, prior: Float64Array, lift: Float64Array, weights: Map<number, number> | undefined, shares: Float64Array) => {
      target.set(prior);
      if (weights) for (const [f, w] of weights) target[f + 1] = Math.log(w + priorStrength * shares[f + 1]!);
      for (let f = 0; f < target.length; f++) target[f] = target[f]! - lift[f]!;
    };
    fill(this.logDiscipline, this.priorDiscipline, this.liftDiscipline, profile?.disciplineWeights, popularity.disciplineShare);
    fill(this.logDuration, this.priorDuration, this.liftDuration, profile?.durationWeights, popularity.durationShare);
    fill(this.logInstructor, this.priorInstructor, this.liftInstructor, profile?.instructorWeights, popularity.instructorShare);
    const { base, d, k, i, scores, logDiscipline, logDuration, logInstructor, categorySlots, combine } = this;
    const wi = this.instructorWeight;
    const n = scores.length;
    const withHistory = profile !== null && profile.workouts > 0;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < n; c++) {
      let s = base[c]!;
      if (withHistory) {
        let discipline: number;
        if (categorySlots === null) discipline = logDiscipline[d[c]!]!;
        else {
          const from = categorySlots.offsets[c]!;
          const to = categorySlots.offsets[c + 1]!;
          discipline = combine === 'max' ? Number.NEGATIVE_INFINITY : 0;
          for (let j = from; j < to; j++) {
            const v = logDiscipline[categorySlots.slots[j]!]!;
            if (combine === 'mean') discipline += v;
            else if (combine === 'max') discipline = Math.max(discipline, v);
            else discipline += Math.exp(v);
          }
          if (combine === 'mean') discipline /= to - from;
          else if (combine === 'logMean') discipline = Math.log(discipline / (to - from));
        }
        s += discipline + logDuration[k[c]!]! + wi * logInstructor[i[c]!]!;
      }
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
