/**
 * Fallbacks decided by measurement: segments of members, the best candidate per segment from
 * per-member nDCG, a plan's score under another name (production's ranker), and the holdouts a
 * sparse history gets (latest interactions per member) — plus the data's clock.
 */
import { describe, expect, it } from 'vitest';
import { Catalogue } from '../../model/data/catalogue.ts';
import { dataClock, DAY_MS } from '../../model/data/time.ts';
import { chooseHoldout, latestInteractionsSplit } from '../../model/evaluation/holdout.ts';
import { asServingPlan, decideServingPlan, planNdcg, segmentOf, type Segment } from '../../model/serving-plan.ts';
import { historyOf } from '../support/history.ts';

const T0 = Date.parse('1998-04-01T00:00:00Z');

function catalogueOf(n: number): Catalogue {
  const ids = Array.from({ length: n }, (_, c) => `c${c}`);
  return Catalogue.fromColumns({
    ids,
    titles: ids,
    disciplineNames: ids.map(() => 'Drama'),
    durations: ids.map(() => -1),
    instructorIds: ids.map(() => null),
    instructorNamesByClass: ids.map(() => null),
    languages: ids.map(() => null),
    aired: ids.map(() => Number.NaN),
    encore: ids.map(() => false),
  });
}

describe('segmentOf', () => {
  const clock = T0 + 100 * DAY_MS;
  it('no history, short history, long inactive, active', () => {
    expect(segmentOf(0, Number.NaN, clock)).toBe('no_history');
    expect(segmentOf(4, clock - DAY_MS, clock)).toBe('short_history');
    expect(segmentOf(5, clock - 61 * DAY_MS, clock)).toBe('long_inactive');
    expect(segmentOf(5, clock - 59 * DAY_MS, clock)).toBe('active');
    expect(segmentOf(5, clock - 10 * DAY_MS, clock, { shortHistory: 2, inactiveDays: 7 })).toBe('long_inactive');
  });
});

describe('decideServingPlan', () => {
  // Six evaluated members: three active, two long inactive, one short history.
  const segments: Segment[] = ['active', 'active', 'active', 'long_inactive', 'long_inactive', 'short_history'];
  const perMember = new Map<string, Float64Array>([
    ['ranker', Float64Array.from([1, 1, 0, 0, 0, 0])],
    ['ease', Float64Array.from([0.5, 0.5, 0.5, 1, 1, 0])],
    ['heuristics', Float64Array.from([0, 0, 0, 0, 0.5, 1])],
    ['popularity', Float64Array.from([0, 0, 0, 0, 0, 0.5])],
  ]);

  it('gives each segment its best candidate, and says why with the figures', () => {
    const plan = decideServingPlan(perMember, segments, { candidates: ['ranker', 'ease', 'baseline', 'heuristics', 'popularity'], minSegmentMembers: 1 });
    expect(plan.segments).toEqual({ no_history: 'popularity', short_history: 'heuristics', long_inactive: 'ease', active: 'ranker' });
    expect(plan.reasons.active).toBe('ranker 0.6667 on 3 members beats ease 0.5000, heuristics 0.0000, popularity 0.0000');
    expect(plan.segmentMetrics.long_inactive).toEqual({ members: 2, ranker: 0, ease: 1, heuristics: 0.25, popularity: 0 });
    // Each member scored by their segment's candidate: (1 + 1 + 0 + 1 + 1 + 1) / 6.
    expect(plan.ndcg).toBeCloseTo(5 / 6, 12);
  });

  it('a segment with too few evaluated members takes the best candidate overall', () => {
    const plan = decideServingPlan(perMember, segments, { candidates: ['ranker', 'ease', 'heuristics', 'popularity'], minSegmentMembers: 3 });
    // Overall: ranker 2/6, ease 3.5/6, heuristics 1.5/6 → ease.
    expect(plan.segments).toEqual({ no_history: 'popularity', short_history: 'ease', long_inactive: 'ease', active: 'ranker' });
    expect(plan.reasons.short_history).toMatch(/1 evaluated members \(fewer than 3\): the best overall, ease/);
  });

  it('scores a stored plan under other names (production\'s ranker is evaluated as `production`)', () => {
    const withProduction = new Map([...perMember, ['production', Float64Array.from([0, 0, 0, 0, 0, 0])]]);
    const segmentsOfPlan = { no_history: 'popularity', short_history: 'ranker', long_inactive: 'ranker', active: 'ranker' } as const;
    expect(planNdcg(segmentsOfPlan, withProduction, segments, (c) => (c === 'ranker' ? 'production' : c))).toBe(0);
    expect(planNdcg(segmentsOfPlan, withProduction, segments)).toBeCloseTo(2 / 6, 12);
  });

  it('reads a stored plan back, and nothing else', () => {
    const plan = decideServingPlan(perMember, segments, { candidates: ['ranker', 'ease'] });
    expect(asServingPlan(JSON.parse(JSON.stringify(plan)))?.segments).toEqual(plan.segments);
    expect(asServingPlan({ segments: { active: 'magic' } })).toBeNull();
    expect(asServingPlan(null)).toBeNull();
  });
});

describe('holdouts on sparse data', () => {
  // Four members, one interaction every 30 days: the last 3 days before the clock hold nothing.
  const sparse = (member: number, n: number) => Array.from({ length: n }, (_, j) => [(member * 3 + j) % 10, T0 + (member + j * 30) * DAY_MS] as [number, number]);
  const history = historyOf([sparse(0, 10), sparse(1, 10), sparse(2, 2), sparse(3, 7)]);
  const catalogue = catalogueOf(10);
  const clock = T0 + 400 * DAY_MS;

  it('holds out each evaluated member\'s latest interactions and keeps everyone else whole', () => {
    const split = latestInteractionsSplit(catalogue, history, clock, { fraction: 0.2 });
    expect(split.kind).toBe('latest');
    // m2 has 2 interactions (< 3): not evaluated, history kept. m0/m1: 2 of 10 held out; m3: round(1.4) = 1 of 7.
    expect(Array.from({ length: 4 }, (_, m) => split.train.workoutsOf(m).end - split.train.workoutsOf(m).start)).toEqual([8, 8, 2, 6]);
    expect(Array.from(split.members)).toEqual([0, 1, 3]);
    // m0's held-out classes are 8 and 9 (its 9th and 10th), not taken before.
    expect([...split.relevant[0]!].sort()).toEqual([8, 9]);
    expect(split.testFrom).toBe(clock);
  });

  it('the time holdout is used when it has members to judge by; otherwise the latest interactions, and says so', () => {
    const sparseChoice = chooseHoldout(catalogue, history, clock, { holdoutDays: 3, minMembers: 1 });
    expect(sparseChoice.split.kind).toBe('latest');
    expect(sparseChoice.reason).toMatch(/hold 0 members to judge by/);
    const dense = historyOf([[[0, clock - 10 * DAY_MS], [1, clock - DAY_MS]], [[2, clock - 9 * DAY_MS], [3, clock - 2 * DAY_MS]]]);
    const denseChoice = chooseHoldout(catalogue, dense, clock, { holdoutDays: 3, minMembers: 2 });
    expect(denseChoice.split.kind).toBe('time');
    expect(denseChoice.split.members.length).toBe(2);
  });
});

describe('dataClock', () => {
  const asOf = Date.parse('2026-12-02T00:00:00Z');
  it('is the as-of time when the data runs up to it', () => {
    expect(dataClock(asOf, asOf - 3_600_000)).toBe(asOf);
    expect(dataClock(asOf, null)).toBe(asOf);
  });
  it('is the end of the last interaction\'s day when the data ended long before, and shifts with the data by whole days', () => {
    const end = Date.parse('1998-04-22T23:10:00Z');
    expect(new Date(dataClock(asOf, end)).toISOString()).toBe('1998-04-23T00:00:00.000Z');
    const shift = 3000 * DAY_MS;
    expect(dataClock(asOf, end + shift) - dataClock(asOf, end)).toBe(shift);
  });
});
