/**
 * The heuristic baseline on a hand-built history: member profiles (recency-weighted top
 * discipline / duration / instructor, the usual set), the scorer (probabilities, exclusions,
 * cold start = popularity) and the top-N selection (ties → newer class).
 */
import { describe, expect, it } from 'vitest';
import { computePopularity, HeuristicScorer, popularityFromCounts, popularityWindowDays } from '../../model/baselines/heuristics.ts';
import { History } from '../../model/data/history.ts';
import { profileFromWorkouts } from '../../model/data/profiles.ts';
import { TopN } from '../../model/data/top-n.ts';
import { DAY_MS, handCatalogue, type ClassSpec } from '../support/picks.ts';

const AS_OF = Date.parse('2026-06-01T00:00:00Z');
const OLD = new Date(AS_OF - 60 * DAY_MS);

// The member's history: yoga once (oldest), six 30-min cycling classes with X, then two 45-min runs with Y (latest).
const TAKEN: ClassSpec[] = [
  { id: 'yoga20z', discipline: 'yoga', duration: 20, instructor: 'Z', airedAt: OLD },
  ...Array.from({ length: 6 }, (_, i): ClassSpec => ({ id: `cyc30x_${i}`, discipline: 'cycling', duration: 30, instructor: 'X', airedAt: OLD })),
  { id: 'run45y_0', discipline: 'running', duration: 45, instructor: 'Y', airedAt: OLD },
  { id: 'run45y_1', discipline: 'running', duration: 45, instructor: 'Y', airedAt: OLD },
];
// Untaken: the perfect match first, then classes each one feature off.
const CANDIDATES: ClassSpec[] = [
  { id: 'match_cyc30x', discipline: 'cycling', duration: 30, instructor: 'X', airedAt: OLD },
  { id: 'cyc30y', discipline: 'cycling', duration: 30, instructor: 'Y', airedAt: OLD },
  { id: 'cyc45x', discipline: 'cycling', duration: 45, instructor: 'X', airedAt: OLD },
  { id: 'run30x', discipline: 'running', duration: 30, instructor: 'X', airedAt: OLD },
  { id: 'yoga30x', discipline: 'yoga', duration: 30, instructor: 'X', airedAt: OLD },
  { id: 'str30x', discipline: 'strength', duration: 30, instructor: 'X', airedAt: OLD },
  { id: 'str10w', discipline: 'strength', duration: 10, instructor: 'W', airedAt: OLD },
  { id: 'med5w', discipline: 'meditation', duration: 5, instructor: 'W', airedAt: OLD },
];
const catalogue = handCatalogue([...TAKEN, ...CANDIDATES]);
const idx = (id: string) => catalogue.index.get(id)!;
const history = TAKEN.map((c) => idx(c.id)); // oldest first

/** Every class equally popular: the member's profile alone orders the scores. */
function uniformPopularity() {
  const counts = new Float64Array(catalogue.size).fill(5);
  return popularityFromCounts(catalogue, counts, counts, AS_OF);
}

describe('member profile', () => {
  const profile = profileFromWorkouts(catalogue, history, AS_OF - DAY_MS);

  it('finds the top discipline, duration and instructor and the usual set', () => {
    expect(profile.workouts).toBe(9);
    expect(catalogue.disciplines[profile.topDiscipline]).toBe('cycling');
    expect(catalogue.durations[profile.topDuration]).toBe(30);
    expect(catalogue.instructors[profile.topInstructor]).toBe('X');
    // running is 2 of 9 recent-ish workouts (≥ 20 %), yoga 1 of 9 and the oldest (< 20 %).
    expect([...profile.usualDisciplines].map((d) => catalogue.disciplines[d]).sort()).toEqual(['cycling', 'running']);
    expect([...profile.taken].map((c) => catalogue.classIds[c]).sort()).toEqual(TAKEN.map((c) => c.id).sort());
    expect([...profile.takenInstructors].map((i) => catalogue.instructors[i]).sort()).toEqual(['X', 'Y', 'Z']);
  });

  it('weighs recent workouts more: equal counts, the recent discipline wins', () => {
    const strength = idx('str30x');
    const cycling = idx('cyc45x');
    const oldStrengthThenCycling = [...Array(5).fill(strength), ...Array(5).fill(cycling)];
    const p = profileFromWorkouts(catalogue, oldStrengthThenCycling, AS_OF);
    expect(catalogue.disciplines[p.topDiscipline]).toBe('cycling');
    const q = profileFromWorkouts(catalogue, [...oldStrengthThenCycling].reverse(), AS_OF);
    expect(catalogue.disciplines[q.topDiscipline]).toBe('strength');
    expect(p.disciplineWeights.get(catalogue.discipline[cycling]!)!).toBeGreaterThan(p.disciplineWeights.get(catalogue.discipline[strength]!)!);
  });

  it('is empty without history: no top features, nothing usual', () => {
    const empty = profileFromWorkouts(catalogue, [], Number.NaN);
    expect([empty.topDiscipline, empty.topDuration, empty.topInstructor]).toEqual([-1, -1, -1]);
    expect(empty.usualDisciplines.size).toBe(0);
  });
});

describe('HeuristicScorer', () => {
  const profile = profileFromWorkouts(catalogue, history, AS_OF - DAY_MS);
  const excluded = new Uint8Array(catalogue.size);
  for (const c of profile.taken) excluded[c] = 1;

  it('ranks the untaken 30-min cycling class with X above every other class', () => {
    const scores = Float64Array.from(new HeuristicScorer(catalogue, uniformPopularity(), AS_OF).score(profile, excluded));
    const order = new TopN(catalogue.size, catalogue.airedAt).select(scores);
    expect(catalogue.classIds[order[0]!]).toBe('match_cyc30x');
    // Each feature the member likes counts: one feature off scores lower than the match,
    // and a class sharing nothing with the history scores lowest of all.
    for (const id of ['cyc30y', 'cyc45x', 'run30x', 'yoga30x', 'str30x']) expect(scores[idx(id)]!, id).toBeLessThan(scores[idx('match_cyc30x')]!);
    expect(scores[idx('cyc30y')]!).toBeGreaterThan(scores[idx('med5w')]!);
    expect(scores[idx('yoga30x')]!).toBeLessThan(scores[idx('run30x')]!); // usual discipline beats an unusual one
    const worst = Math.min(...CANDIDATES.map((c) => scores[idx(c.id)]!));
    expect(worst).toBe(Math.min(scores[idx('str10w')]!, scores[idx('med5w')]!));
  });

  it('gives probabilities: finite, positive, summing to 1 over the classes not excluded; taken classes -Infinity', () => {
    const scores = new HeuristicScorer(catalogue, uniformPopularity(), AS_OF).score(profile, excluded);
    let total = 0;
    for (let c = 0; c < catalogue.size; c++) {
      if (excluded[c] === 1) {
        expect(scores[c], catalogue.classIds[c]).toBe(Number.NEGATIVE_INFINITY);
        continue;
      }
      expect(Number.isFinite(scores[c]!)).toBe(true);
      expect(scores[c]!).toBeGreaterThan(0);
      total += scores[c]!;
    }
    expect(total).toBeCloseTo(1, 9);
    // TopN never returns an excluded class.
    const top = new TopN(catalogue.size, catalogue.airedAt).select(scores);
    expect(top.length).toBe(CANDIDATES.length);
    for (const c of top) expect(profile.taken.has(c)).toBe(false);
  });

  it('scores a cold-start member (no profile) by popularity alone', () => {
    const recent = new Float64Array(catalogue.size);
    // Distinct popularity for every class: class i has (i * 7 % size) + 1 recent workouts.
    for (let c = 0; c < catalogue.size; c++) recent[c] = ((c * 7) % catalogue.size) + 1;
    const popularity = popularityFromCounts(catalogue, recent, recent, AS_OF);
    const scorer = new HeuristicScorer(catalogue, popularity, AS_OF);
    const scores = Float64Array.from(scorer.score(null));
    const byScore = [...new TopN(catalogue.size, catalogue.airedAt).select(scores)];
    const byPopularity = [...catalogue.classIds.keys()].sort((a, b) => recent[b]! - recent[a]!);
    expect(byScore).toEqual(byPopularity);
    expect(scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    // An empty profile scores the same as no profile.
    const empty = Float64Array.from(scorer.score(profileFromWorkouts(catalogue, [], Number.NaN)));
    for (let c = 0; c < catalogue.size; c++) expect(empty[c]).toBeCloseTo(scores[c]!, 12);
  });
});

describe('TopN', () => {
  it('keeps the N best, best first, skipping excluded and non-finite scores', () => {
    const aired = new Float64Array(8).fill(0);
    const scores = Float64Array.from([0.1, 0.9, Number.NaN, 0.5, Number.NEGATIVE_INFINITY, 0.7, 0.3, 0.8]);
    const excluded = new Uint8Array(8);
    excluded[7] = 1;
    expect([...new TopN(3, aired).select(scores, excluded)]).toEqual([1, 5, 3]);
    expect([...new TopN(10, aired).select(scores)]).toEqual([1, 7, 5, 3, 6, 0]);
  });

  it('breaks ties in favour of the newer class (later airedAt; an unknown air date loses)', () => {
    const spec = (id: string, airedAt: Date | null): ClassSpec => ({ id, discipline: 'cycling', duration: 30, instructor: 'X', airedAt });
    const cat = handCatalogue([spec('older', new Date(AS_OF - 30 * DAY_MS)), spec('undated', null), spec('newest', new Date(AS_OF - 16 * DAY_MS)), spec('newer', new Date(AS_OF - 20 * DAY_MS))]);
    const counts = new Float64Array(cat.size).fill(3);
    // Same features, same counts, all available for the whole 14-day window: equal scores.
    const popularity = popularityFromCounts(cat, counts, counts, AS_OF);
    const scores = Float64Array.from(new HeuristicScorer(cat, popularity, AS_OF).score(null));
    expect(new Set(scores).size).toBe(1);
    expect([...new TopN(4, cat.airedAt).select(scores)].map((c) => cat.classIds[c])).toEqual(['newest', 'newer', 'older', 'undated']);
    expect([...new TopN(2, cat.airedAt).select(scores)].map((c) => cat.classIds[c])).toEqual(['newest', 'newer']);
  });
});

describe('multi-valued categories (imported films)', () => {
  // Genres as one cell; no durations, instructors or air dates.
  const films = handCatalogue(
    ['Comedy|Romance', 'Comedy', 'Comedy|Drama', 'Horror', 'Comedy|Romance', 'Horror|Thriller', 'Romance|Drama', 'Drama'].map(
      (genres, i): ClassSpec => ({ id: `f${i}`, discipline: genres, duration: null, instructor: null, airedAt: null }),
    ),
  );
  const f = (i: number) => films.index.get(`f${i}`)!;
  const g = (name: string) => films.disciplines.indexOf(name) + 1; // share slot

  it('popularity priors are over single categories: a film counts towards each of its genres', () => {
    const counts = Float64Array.from({ length: films.size }, (_, c) => (c === f(0) ? 10 : 0));
    const p = popularityFromCounts(films, counts, counts, AS_OF);
    expect(films.disciplines).not.toContain('Comedy|Romance');
    expect(p.disciplineShare.length).toBe(films.disciplines.length + 1);
    // 10 workouts of a Comedy|Romance film: 10 for Comedy and 10 for Romance, Laplace-smoothed.
    expect(p.disciplineShare[g('Comedy')]).toBeCloseTo(p.disciplineShare[g('Romance')]!, 12);
    expect(p.disciplineShare[g('Comedy')]!).toBeGreaterThan(5 * p.disciplineShare[g('Horror')]!);
    expect(p.disciplineShare.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('scores a film by its genres together: a comedy fan gets comedies (pure or mixed) before horror', () => {
    const counts = new Float64Array(films.size).fill(5);
    const popularity = popularityFromCounts(films, counts, counts, AS_OF);
    const profile = profileFromWorkouts(films, [f(1), f(0), f(2)], AS_OF); // three comedies
    const excluded = new Uint8Array(films.size);
    for (const c of profile.taken) excluded[c] = 1;
    const scores = Float64Array.from(new HeuristicScorer(films, popularity, AS_OF).score(profile, excluded));
    expect(scores[f(4)]!).toBeGreaterThan(scores[f(3)]!); // Comedy|Romance > Horror
    expect(scores[f(4)]!).toBeGreaterThan(scores[f(5)]!); // Comedy|Romance > Horror|Thriller
    expect(scores[f(6)]!).toBeGreaterThan(scores[f(5)]!); // Romance|Drama (both seen) > Horror|Thriller (neither)
    const total = scores.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    expect(total).toBeCloseTo(1, 9);
    // Every way of combining a film's genres scores finite probabilities.
    for (const categoryCombine of ['mean', 'logMean', 'max'] as const) {
      const s = new HeuristicScorer(films, popularity, AS_OF, { categoryCombine }).score(profile, excluded);
      for (let c = 0; c < films.size; c++) if (excluded[c] === 0) expect(Number.isFinite(s[c]!) && s[c]! > 0, `${categoryCombine} f${c}`).toBe(true);
      expect(s[f(4)]!, categoryCombine).toBeGreaterThan(s[f(3)]!);
    }
  });

  it('with liftWeight 1, a member whose tastes match everyone’s is ranked as popularity ranks', () => {
    // One genre per film so the member's shares can equal everyone's exactly.
    const single = handCatalogue(['A', 'A', 'B', 'B', 'C'].map((d, i): ClassSpec => ({ id: `s${i}`, discipline: d, duration: null, instructor: null, airedAt: null })));
    const counts = Float64Array.from([6, 2, 3, 1, 0]);
    const popularity = popularityFromCounts(single, counts, counts, AS_OF);
    // Recency-free profile in the population's proportions: A 8, B 4, C 0. Without the lift the
    // member's shares (A twice B) would push every A film above every B film.
    const profile = profileFromWorkouts(single, [...Array(8).fill(0), ...Array(4).fill(2)], AS_OF, { halfLife: Number.POSITIVE_INFINITY });
    const withLift = Float64Array.from(new HeuristicScorer(single, popularity, AS_OF, { liftWeight: 1 }).score(profile));
    const byPopularity = Float64Array.from(new HeuristicScorer(single, popularity, AS_OF).score(null));
    const order = (s: Float64Array) => [...new TopN(single.size, single.airedAt).select(s)];
    expect(order(withLift)).toEqual(order(byPopularity));
    const withoutLift = Float64Array.from(new HeuristicScorer(single, popularity, AS_OF, { liftWeight: 0 }).score(profile));
    expect(order(withoutLift)).not.toEqual(order(byPopularity));
  });
});

describe('the popularity window', () => {
  // 3 classes; all workouts 100–40 days before AS_OF: a 14-day window holds none of them.
  const cat = handCatalogue(['a', 'b', 'c'].map((id): ClassSpec => ({ id, discipline: 'cycling', duration: 30, instructor: 'X', airedAt: new Date(AS_OF - 400 * DAY_MS) })));
  const workouts = [0, 0, 0, 0, 1, 1, 2];
  const history = History.fromArrays(
    ['m'],
    Int32Array.from([0, workouts.length]),
    Int32Array.from(workouts),
    Float64Array.from(workouts, (_, j) => AS_OF - (100 - 10 * j) * DAY_MS),
  );

  it('stretches back to hold enough workouts on old or sparse data, and says how far', () => {
    const stretched = computePopularity(cat, history, AS_OF);
    expect(stretched.windowDays).toBeCloseTo(100, 9); // fewer than 50 × 3 workouts in all: back to the first
    expect(stretched.rate[0]!).toBeGreaterThan(stretched.rate[1]!);
    expect(stretched.rate[1]!).toBeGreaterThan(stretched.rate[2]!);
    // Enough for 2 workouts only: back to the second-latest (50 days before AS_OF).
    expect(popularityWindowDays(history, AS_OF, 14, 2)).toBeCloseTo(50, 9);
  });

  it('keeps the plain window when it holds enough, or when asked to (minWindowWorkouts 0)', () => {
    const plain = computePopularity(cat, history, AS_OF, { minWindowWorkouts: 0 });
    expect(plain.windowDays).toBe(14);
    expect(new Set(plain.rate).size).toBe(1); // nothing in the window: all alike
    // 35 days earlier the window holds the latest workout (5 days before): enough for 1, not for 2.
    expect(popularityWindowDays(history, AS_OF - 35 * DAY_MS, 14, 1)).toBe(14);
    expect(popularityWindowDays(history, AS_OF - 35 * DAY_MS, 14, 2)).toBeCloseTo(15, 9);
    expect(popularityWindowDays(History.fromArrays([], Int32Array.from([0]), new Int32Array(0), new Float64Array(0)), AS_OF, 14, 100)).toBe(14);
  });
});
