/**
 * The ignore discount of the `model_ignore_aware` variant: score × γⁿ for a class ignored on n
 * days, left out from `cooldownAfter` ignores on, and from `somethingNewCooldownAfter` on in
 * something_new; and cutRows leaving the excluded classes out of a row's top-up as well.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_IGNORE_AWARE_OPTIONS } from '../../daily-picks/options.ts';
import { cutRows } from '../../daily-picks/rows/cut-rows.ts';
import { discountedScore, discountIgnored, inCooldown, isResting } from '../../daily-picks/rows/ignore-discount.ts';
import { defaultRowSpecs } from '../../daily-picks/rows/row-specs.ts';
import { profileFromWorkouts } from '../../model/data/profiles.ts';
import { handCatalogue } from '../support/picks.ts';

const OPTIONS = DEFAULT_IGNORE_AWARE_OPTIONS; // gamma 0.5, cooldown after 3, something_new after 1

describe('ignore discount', () => {
  it('multiplies the score by gamma per day ignored', () => {
    expect(discountedScore(0.8, 0, 0.5)).toBe(0.8);
    expect(discountedScore(0.8, 1, 0.5)).toBe(0.4);
    expect(discountedScore(0.8, 2, 0.5)).toBeCloseTo(0.2, 12);
    expect(discountedScore(0.9, 2, 0.9)).toBeCloseTo(0.729, 12);
  });

  it('cools a class down after cooldownAfter ignores, something_new after somethingNewCooldownAfter', () => {
    for (const row of ['for_your_usual', 'quick_workout', 'ranked']) {
      expect([0, 1, 2, 3, 4].map((n) => inCooldown(row, n, OPTIONS)), row).toEqual([false, false, false, true, true]);
    }
    expect([0, 1, 2, 3].map((n) => inCooldown('something_new', n, OPTIONS))).toEqual([false, true, true, true]);
    expect([0, 1, 2, 3].map((n) => inCooldown('something_new', n, { cooldownAfter: 3, somethingNewCooldownAfter: 2 }))).toEqual([false, false, true, true]);
  });

  it('rests a class for restDays after it was last shown: left out of every row, then back discounted', () => {
    const DAY = 86_400_000;
    const asOf = Date.UTC(2026, 11, 2, 5);
    expect(isResting(asOf - 20 * 3_600_000, asOf, 1)).toBe(true); // shown yesterday 09:00
    expect(isResting(asOf - DAY - 1, asOf, 1)).toBe(false); // before the day of rest
    expect(isResting(asOf - DAY - 1, asOf, 2)).toBe(true);
    expect(isResting(asOf - 1000, asOf, 0)).toBe(false); // restDays 0: no rest
    expect(inCooldown('for_your_usual', 1, OPTIONS, true)).toBe(true);
    expect(inCooldown('for_your_usual', 0, OPTIONS, true)).toBe(false); // never ignored: nothing to rest
    // Classes 0..2 ignored once; class 1 rests: out, the others halved.
    const out = discountIgnored({ candidates: [0, 1, 2, 3], scores: [0.9, 0.8, 0.7, 0.3] }, (c) => (c < 3 ? 1 : 0), OPTIONS, (c) => c === 1);
    expect(Array.from(out.candidates)).toEqual([0, 2, 3]);
    expect(Array.from(out.scores)).toEqual([0.45, 0.35, 0.3]);
  });

  it('re-orders the candidates by discounted score and leaves out those in cooldown', () => {
    // Classes 0..4, scores 0.9 … 0.5; class 0 ignored twice (0.9 → 0.225), class 1 once (0.8 → 0.4), class 2 three times (out).
    const ignored = new Map([[0, 2], [1, 1], [2, 3]]);
    const out = discountIgnored({ candidates: [0, 1, 2, 3, 4], scores: [0.9, 0.8, 0.7, 0.6, 0.5] }, (c) => ignored.get(c) ?? 0, OPTIONS);
    expect(Array.from(out.candidates)).toEqual([3, 4, 1, 0]);
    expect(Array.from(out.scores)).toEqual([0.6, 0.5, 0.4, 0.225]);
  });

  it('keeps the ranking as it is when nothing was ignored, and ties in ranking order', () => {
    const ranked = { candidates: [5, 6, 7], scores: [0.3, 0.2, 0.1] };
    expect(discountIgnored(ranked, () => 0, OPTIONS)).toBe(ranked);
    // 0.4 × 0.5 = 0.2 ties with class 6: the ranking's order breaks the tie.
    const out = discountIgnored({ candidates: [5, 6, 7], scores: [0.4, 0.2, 0.1] }, (c) => (c === 5 ? 1 : 0), OPTIONS);
    expect(Array.from(out.candidates)).toEqual([5, 6, 7]);
    const later = discountIgnored({ candidates: [6, 5, 7], scores: [0.2, 0.4, 0.1] }, (c) => (c === 5 ? 1 : 0), OPTIONS);
    expect(Array.from(later.candidates)).toEqual([6, 5, 7]);
  });

  it('cutRows leaves excluded classes out of a row, its popular top-up included', () => {
    const catalogue = handCatalogue([
      { id: 'a', discipline: 'yoga' },
      { id: 'b', discipline: 'yoga' },
      { id: 'c', discipline: 'cycling' },
      { id: 'd', discipline: 'cycling' },
    ]);
    const profile = profileFromWorkouts(catalogue, [catalogue.index.get('a')!, catalogue.index.get('a')!], Date.parse('2026-03-01T00:00:00Z'));
    const specs = defaultRowSpecs(2, 4);
    const idx = (id: string) => catalogue.index.get(id)!;
    const ignored = new Map([[idx('c'), 1]]);
    const rows = cutRows({
      catalogue,
      profile,
      asOf: Date.parse('2026-03-02T00:00:00Z'),
      candidates: [idx('c'), idx('b')],
      scores: [0.6, 0.5],
      named: specs.named,
      ranked: specs.ranked,
      popular: { classIdx: [idx('d'), idx('c'), idx('b')], scores: [0.3, 0.2, 0.1] },
      exclude: (row, c) => inCooldown(row, ignored.get(c) ?? 0, OPTIONS),
    });
    const ids = (row: string) => rows.find((r) => r.row === row)?.picks.map((p) => catalogue.classIds[p.classIdx]);
    // c was ignored once: out of something_new (candidate and top-up alike), still in ranked.
    expect(ids('something_new')).toEqual(['d']);
    expect(ids('ranked')).toEqual(['c', 'b', 'd']);
  });
});
