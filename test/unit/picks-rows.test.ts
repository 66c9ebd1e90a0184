/**
 * Rows: each declarative filter on its edge cases, and `cutRows` (one named row per class,
 * `ranked` = the filtered top-N, short rows topped up from popular classes, reasons).
 */
import { describe, expect, it } from 'vitest';
import { profileFromWorkouts, type MemberProfile } from '../../model/data/profiles.ts';
import { cutRows, type CutRow } from '../../daily-picks/rows/cut-rows.ts';
import { describeFilter, filters, matches, matchesAll, unavailableReason, type FilterContext } from '../../daily-picks/rows/filters.ts';
import { reasonFor, reasonWording } from '../../daily-picks/rows/reasons.ts';
import { defaultRowSpecs, rowsUnavailable } from '../../daily-picks/rows/row-specs.ts';
import { DAY_MS, handCatalogue, type ClassSpec } from '../support/picks.ts';

const AS_OF = Date.parse('2026-06-01T00:00:00Z');
const ago = (days: number) => new Date(AS_OF - days * DAY_MS);

describe('filters', () => {
  const catalogue = handCatalogue([
    { id: 'cyc20', discipline: 'cycling', duration: 20, instructor: 'X' },
    { id: 'cyc21', discipline: 'cycling', duration: 21, instructor: 'X' },
    { id: 'nodur', discipline: 'cycling', duration: null, instructor: 'X' },
    { id: 'yoga', discipline: 'yoga', duration: 10, instructor: 'Y' },
    { id: 'nodisc', discipline: null, duration: 10, instructor: null },
    { id: 'enc3', discipline: 'cycling', encore: true, airedAt: ago(3) },
    { id: 'enc7', discipline: 'cycling', encore: true, airedAt: ago(7) },
    { id: 'enc8', discipline: 'cycling', encore: true, airedAt: ago(8) },
    { id: 'encNoDate', discipline: 'cycling', encore: true, airedAt: null },
    { id: 'old', discipline: 'cycling', airedAt: ago(400) },
  ]);
  const c = (id: string) => catalogue.index.get(id)!;
  // Took cyc20 and cyc21 with X: cycling is the only usual discipline, X the only instructor taken.
  const profile = profileFromWorkouts(catalogue, [c('cyc20'), c('cyc21')], AS_OF - DAY_MS);
  const context: FilterContext = { catalogue, profile, asOf: AS_OF };
  const passing = (filter: Parameters<typeof matches>[0]) => catalogue.classIds.filter((_, i) => matches(filter, i, context));

  it('maxDuration: known duration at most the limit', () => {
    expect(passing(filters.maxDuration(20))).toEqual(['cyc20', 'yoga', 'nodisc']);
  });

  it('usualDiscipline / notUsualDiscipline: an unknown discipline is neither', () => {
    expect(passing(filters.usualDiscipline())).toEqual(['cyc20', 'cyc21', 'nodur', 'enc3', 'enc7', 'enc8', 'encNoDate', 'old']);
    expect(passing(filters.notUsualDiscipline())).toEqual(['yoga']);
  });

  it('notTaken: classes the member took are out', () => {
    expect(passing(filters.notTaken())).not.toContain('cyc20');
    expect(passing(filters.notTaken())).not.toContain('cyc21');
    expect(passing(filters.notTaken())).toHaveLength(catalogue.size - 2);
  });

  it('encoreInAirWeek: an encore only within its air week (inclusive), never undated; other classes always', () => {
    expect(passing(filters.encoreInAirWeek(7))).toEqual(['cyc20', 'cyc21', 'nodur', 'yoga', 'nodisc', 'enc3', 'enc7', 'old']);
    expect(passing(filters.encoreInAirWeek(2))).not.toContain('enc3');
  });

  it('newInstructor: a known instructor the member never took a class with', () => {
    expect(passing(filters.newInstructor())).toEqual(['yoga']);
  });

  it('anyOf: passes when one of its filters does; matchesAll needs all', () => {
    const quickOrNew = filters.anyOf(filters.maxDuration(10), filters.newInstructor());
    expect(passing(quickOrNew)).toEqual(['yoga', 'nodisc']);
    expect(passing(filters.anyOf())).toEqual([]);
    const all = [filters.usualDiscipline(), filters.notTaken(), filters.encoreInAirWeek(7)];
    expect(catalogue.classIds.filter((_, i) => matchesAll(all, i, context))).toEqual(['nodur', 'enc3', 'enc7', 'old']);
    expect(describeFilter(quickOrNew)).toBe('any of (duration ≤ 10 min, instructor new to the member)');
  });
});

describe('cutRows', () => {
  // 12 cycling 30-min X classes, 6 quick (≤ 20) cycling classes, 8 yoga Z, 4 expired encores, 2 taken classes.
  const classes: ClassSpec[] = [
    ...Array.from({ length: 12 }, (_, i): ClassSpec => ({ id: `cyc${i}`, discipline: 'cycling', duration: 30, instructor: 'X', airedAt: ago(30 + i) })),
    ...Array.from({ length: 6 }, (_, i): ClassSpec => ({ id: `quick${i}`, discipline: 'cycling', duration: 10 + i, instructor: 'X', airedAt: ago(30 + i) })),
    ...Array.from({ length: 8 }, (_, i): ClassSpec => ({ id: `yoga${i}`, discipline: 'yoga', duration: 45, instructor: 'Z', airedAt: ago(30 + i) })),
    ...Array.from({ length: 4 }, (_, i): ClassSpec => ({ id: `encore${i}`, discipline: 'cycling', duration: 15, instructor: 'X', airedAt: ago(20), encore: true })),
    { id: 'taken0', discipline: 'cycling', duration: 30, instructor: 'X', airedAt: ago(90) },
    { id: 'taken1', discipline: 'cycling', duration: 30, instructor: 'X', airedAt: ago(90) },
    // Popular-only classes: quick strength, never in the member's candidates.
    ...Array.from({ length: 5 }, (_, i): ClassSpec => ({ id: `pop${i}`, discipline: 'strength', duration: 5 + i, instructor: 'P', airedAt: ago(40) })),
  ];
  const catalogue = handCatalogue(classes);
  const c = (id: string) => catalogue.index.get(id)!;
  const profile: MemberProfile = profileFromWorkouts(catalogue, [c('taken0'), c('taken1')], AS_OF - DAY_MS);
  // The member's ranking: every class but the popular-only ones (taken and expired encores included, as a model might), best first.
  const candidates = catalogue.classIds.map((_, i) => i).filter((i) => !catalogue.classIds[i]!.startsWith('pop'));
  const shuffled = [...candidates].sort((a, b) => ((a * 37) % 41) - ((b * 37) % 41));
  const scores = shuffled.map((_, j) => 1 - j / 100);
  const popularIdx = [c('pop0'), c('pop1'), c('pop2'), c('pop3'), c('pop4'), c('cyc0')];
  const popular = { classIdx: popularIdx, scores: popularIdx.map((_, j) => 0.05 - j / 1000) };
  const rowSize = 8;
  const rankedSize = 15;
  const specs = defaultRowSpecs(rowSize, rankedSize);
  const rows = cutRows({ catalogue, profile, asOf: AS_OF, candidates: shuffled, scores, named: specs.named, ranked: specs.ranked, popular });
  const row = (name: string): CutRow => rows.find((r) => r.row === name) ?? { row: name, picks: [] };
  const ids = (name: string) => row(name).picks.map((p) => catalogue.classIds[p.classIdx]!);
  const rankOf = new Map(shuffled.map((cls, j) => [cls, j]));

  it('puts a class in at most one named row', () => {
    const named = ['for_your_usual', 'quick_workout', 'something_new'].flatMap(ids);
    expect(named.length).toBeGreaterThan(0);
    expect(new Set(named).size).toBe(named.length);
    expect(rows.map((r) => r.row)).toEqual(['for_your_usual', 'quick_workout', 'something_new', 'ranked']);
  });

  it('fills each named row with the classes passing its filters, in rank order', () => {
    expect(ids('for_your_usual')).toHaveLength(rowSize);
    for (const id of ids('for_your_usual')) expect(catalogue.disciplineName(c(id))).toBe('cycling');
    const fromCandidates = (name: string) => row(name).picks.filter((p) => rankOf.has(p.classIdx));
    for (const name of ['for_your_usual', 'quick_workout', 'something_new']) {
      const ranks = fromCandidates(name).map((p) => rankOf.get(p.classIdx)!);
      expect(ranks, name).toEqual([...ranks].sort((a, b) => a - b));
      // The score carried is the candidate's own score.
      for (const p of fromCandidates(name)) expect(p.score).toBe(scores[rankOf.get(p.classIdx)!]);
    }
    for (const id of ids('quick_workout')) expect(catalogue.durationMin[c(id)]!).toBeLessThanOrEqual(20);
    expect(ids('something_new').every((id) => id.startsWith('yoga') || id.startsWith('pop'))).toBe(true);
    // The usual row is the first 8 usual, untaken, non-expired candidates.
    const expectedUsual = shuffled.filter((cls) => catalogue.disciplineName(cls) === 'cycling' && !profile.taken.has(cls) && catalogue.isEncore[cls] === 0).slice(0, rowSize);
    expect(row('for_your_usual').picks.map((p) => p.classIdx)).toEqual(expectedUsual);
  });

  it('never offers taken classes or encores after their air week, in any row', () => {
    for (const r of rows) {
      for (const p of r.picks) {
        expect(profile.taken.has(p.classIdx), `${r.row}: ${catalogue.classIds[p.classIdx]}`).toBe(false);
        expect(catalogue.isEncore[p.classIdx], `${r.row}: ${catalogue.classIds[p.classIdx]}`).toBe(0);
      }
    }
  });

  it('ranked holds N classes: the filtered top-N, which may repeat named rows', () => {
    const expected = shuffled.filter((cls) => !profile.taken.has(cls) && catalogue.isEncore[cls] === 0).slice(0, rankedSize);
    expect(row('ranked').picks.map((p) => p.classIdx)).toEqual(expected);
    expect(new Set(ids('ranked')).size).toBe(rankedSize);
  });

  it('tops short rows up from popular classes passing the same filters, with a "Popular…" reason', () => {
    // The candidates hold 6 quick classes and 8 yoga, fewer than a row of 8 once the usual row took its share.
    const quick = row('quick_workout').picks;
    expect(quick).toHaveLength(rowSize);
    const topped = quick.filter((p) => !rankOf.has(p.classIdx));
    expect(topped.length).toBeGreaterThan(0);
    for (const p of topped) {
      expect(catalogue.classIds[p.classIdx]).toMatch(/^pop/);
      expect(p.reason).toMatch(/^Popular this week in /);
    }
    // Candidates first, then popular ones in popularity order.
    expect(quick.slice(quick.length - topped.length).map((p) => p.classIdx)).toEqual(topped.map((p) => p.classIdx));
    expect(topped.map((p) => p.classIdx)).toEqual(popularIdx.filter((cls) => topped.some((p) => p.classIdx === cls)));
    // something_new gets what the quick row left of the popular strength classes; none twice.
    const named = ['quick_workout', 'something_new'].flatMap(ids).filter((id) => id.startsWith('pop'));
    expect(new Set(named).size).toBe(named.length);
  });

  it('gives every pick a finite score and a readable reason', () => {
    for (const r of rows) {
      for (const p of r.picks) {
        expect(Number.isFinite(p.score), `${r.row}`).toBe(true);
        expect(p.reason.trim().length).toBeGreaterThan(0);
      }
    }
    const usual = row('for_your_usual').picks.find((p) => catalogue.durationMin[p.classIdx] === 30)!;
    expect(usual.reason).toBe('You often take 30-min Cycling');
    expect(row('something_new').picks.find((p) => catalogue.classIds[p.classIdx]!.startsWith('yoga'))!.reason).toBe('New to you: Yoga with Z');
    expect(row('quick_workout').picks.find((p) => rankOf.has(p.classIdx))!.reason).toMatch(/^A quick 1\d-min Cycling class with X, your most-taken instructor$/);
  });

  it('a member without history gets popular-style reasons and no something_new (no usual set to differ from)', () => {
    const empty = profileFromWorkouts(catalogue, [], Number.NaN);
    const cold = cutRows({ catalogue, profile: empty, asOf: AS_OF, candidates: shuffled, scores, named: specs.named, ranked: specs.ranked, popular });
    const coldNames = cold.map((r) => r.row);
    expect(coldNames).not.toContain('for_your_usual'); // nothing is usual
    expect(coldNames).toContain('something_new'); // every known discipline is new
    for (const r of cold) for (const p of r.picks) expect(p.reason).toMatch(/^(Popular this week in|New this week: )/);
  });
});

describe('imported items: multi-valued categories, missing durations and air dates', () => {
  // Films: genres in one cell, no durations, instructors or air dates.
  const genres = ['Comedy|Romance', 'Comedy', 'Comedy|Drama', 'Horror', 'Romance|Comedy', 'Horror|Thriller', 'Drama', 'Comedy', 'Documentary', 'Romance'];
  const films = handCatalogue(genres.map((g, i): ClassSpec => ({ id: `f${i}`, discipline: g, duration: null, instructor: null, airedAt: null })));
  const f = (i: number) => films.index.get(`f${i}`)!;
  // Took f1, f7 (Comedy), f9 (Romance), f0 (Comedy|Romance): Comedy 3, Romance 2 → both usual.
  const profile = profileFromWorkouts(films, [f(1), f(7), f(9), f(0)], AS_OF - DAY_MS);
  const candidates = [f(4), f(2), f(3), f(5), f(6), f(8), f(1)];
  const scores = candidates.map((_, j) => 1 - j / 10);
  const specs = defaultRowSpecs(3, 5);
  const popular = { classIdx: [f(8), f(3)], scores: [0.2, 0.1] };
  const rows = cutRows({ catalogue: films, profile, asOf: AS_OF, candidates, scores, named: specs.named, ranked: specs.ranked, popular });
  const row = (name: string) => rows.find((r) => r.row === name);

  it('reports the rows no class can fill, and why: quick_workout without durations', () => {
    expect(rowsUnavailable(films)).toEqual([{ row: 'quick_workout', reason: 'no class has a duration' }]);
    expect(rowsUnavailable(films, specs.named)).toEqual([{ row: 'quick_workout', reason: 'no class has a duration' }]);
    const fitness = handCatalogue([{ id: 'c', discipline: 'cycling', duration: 20, instructor: 'X' }]);
    expect(rowsUnavailable(fitness)).toEqual([]);
    const noCategories = handCatalogue([{ id: 'c', discipline: null, duration: null }]);
    expect(rowsUnavailable(noCategories).map((u) => u.row)).toEqual(['for_your_usual', 'quick_workout', 'something_new']);
    expect(unavailableReason(filters.newInstructor(), films)).toBe('no class has an instructor');
    expect(unavailableReason(filters.anyOf(filters.maxDuration(10), filters.notTaken()), films)).toBeNull();
    expect(unavailableReason(filters.anyOf(filters.maxDuration(10), filters.newInstructor()), films)).toBe('no class has a duration and no class has an instructor');
  });

  it('leaves the unavailable row out and fills the others', () => {
    expect(rows.map((r) => r.row)).toEqual(['for_your_usual', 'something_new', 'ranked']);
    // A film is usual when one of its genres is; new when none is.
    expect(row('for_your_usual')!.picks.map((p) => films.classIds[p.classIdx])).toEqual(['f4', 'f2']);
    expect(row('something_new')!.picks.map((p) => films.classIds[p.classIdx])).toEqual(['f3', 'f5', 'f6']);
  });

  it('never puts a class without a duration in the quick row', () => {
    const mixed = handCatalogue([
      { id: 'short', discipline: 'Comedy', duration: 10 },
      { id: 'unknown', discipline: 'Comedy', duration: null },
      { id: 'zero', discipline: 'Comedy', duration: 0 },
    ]);
    const none = profileFromWorkouts(mixed, [], Number.NaN);
    const all = [0, 1, 2];
    const cut = cutRows({ catalogue: mixed, profile: none, asOf: AS_OF, candidates: all, scores: [0.3, 0.2, 0.1], named: specs.named, ranked: specs.ranked, popular: { classIdx: all, scores: [0.3, 0.2, 0.1] } });
    expect(cut.find((r) => r.row === 'quick_workout')!.picks.map((p) => mixed.classIds[p.classIdx])).toEqual(['short']);
  });

  it('reasons name one genre, never "Comedy|Romance", in words that fit films', () => {
    for (const r of rows) {
      for (const p of r.picks) {
        expect(p.reason).not.toContain('|');
        expect(p.reason).not.toMatch(/\btake\b|\bclass\b|New this week/);
      }
    }
    // f4 is Romance|Comedy: the member took Comedy most, so the reason names Comedy.
    expect(row('for_your_usual')!.picks[0]!.reason).toBe('Because you like Comedy');
    expect(row('something_new')!.picks[0]!.reason).toBe('New to you: Horror');
    // Of a Horror|Thriller film, neither taken: the first genre.
    expect(row('something_new')!.picks[1]!.reason).toBe('New to you: Horror');
    expect(reasonWording(films).domain).toBe('neutral');
  });

  it('says "Popular in X" when popularity is not from this week', () => {
    const empty = profileFromWorkouts(films, [], Number.NaN);
    const reason = (days?: number) => reasonFor('popular', films, empty, f(0), AS_OF, reasonWording(films, days === undefined ? {} : { popularWindowDays: days }));
    expect(reason()).toBe('Popular this week in Comedy');
    expect(reason(14)).toBe('Popular this week in Comedy');
    expect(reason(30)).toBe('Popular this month in Comedy');
    expect(reason(3650)).toBe('Popular in Comedy');
    const cold = cutRows({ catalogue: films, profile: empty, asOf: AS_OF, candidates, scores, named: specs.named, ranked: specs.ranked, reasons: { popularWindowDays: 400 } });
    for (const r of cold) for (const p of r.picks) expect(p.reason).toMatch(/^Popular in [A-Z]/);
  });

  it('an unknown air date never reads "New this week"; a known recent one does', () => {
    const dated = handCatalogue([
      { id: 'undated', discipline: 'cycling', duration: 30, instructor: 'X', airedAt: null },
      { id: 'fresh', discipline: 'cycling', duration: 30, instructor: 'X', airedAt: ago(2) },
    ]);
    const empty = profileFromWorkouts(dated, [], Number.NaN);
    expect(reasonFor('popular', dated, empty, 0, AS_OF)).toBe('Popular this week in Cycling');
    expect(reasonFor('popular', dated, empty, 1, AS_OF)).toBe('New this week: Cycling with X');
  });

  it('keeps fitness wording for classes with durations and instructors, and neutral wording on request', () => {
    const fitness = handCatalogue([
      { id: 'a', discipline: 'yoga', duration: 30, instructor: 'X' },
      { id: 'b', discipline: 'yoga', duration: 45, instructor: 'Y' },
    ]);
    const p = profileFromWorkouts(fitness, [0, 0, 0], AS_OF);
    expect(reasonWording(fitness).domain).toBe('fitness');
    expect(reasonFor('usual', fitness, p, 0, AS_OF)).toBe('You often take 30-min Yoga');
    expect(reasonFor('usual', fitness, p, 0, AS_OF, reasonWording(fitness, { domain: 'neutral' }))).toBe('You often pick 30-min Yoga');
    expect(reasonFor('usual', fitness, p, 1, AS_OF)).toBe('Yoga, with an instructor new to you: Y');
    expect(reasonFor('usual', fitness, p, 1, AS_OF, reasonWording(fitness, { domain: 'neutral' }))).toBe('Yoga by Y, new to you');
  });
});
