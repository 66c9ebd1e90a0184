/**
 * The time-based holdout on a hand-built history: the training prefix, who is evaluated and on
 * what, the even member sample, and evaluateHoldout's metrics for a candidate whose rankings are
 * known (nDCG / recall worked out by hand: 1/log2 3 = 0.6309298, 1/log2 5 = 0.4306766,
 * 1/log2 7 = 0.3562072; IDCG with two relevant classes = 1.6309298).
 */
import { describe, expect, it } from 'vitest';
import { evaluateHoldout, historyBefore, holdoutSplit, popularityCandidate, type HoldoutCandidate, type RankedBatch } from '../../model/evaluation/holdout.ts';
import { Catalogue } from '../../model/data/catalogue.ts';
import { historyOf } from '../support/history.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-05-04T00:00:00Z');
const day = (d: number) => T0 + d * DAY;
const TEST_FROM = day(10);
const historyOfDays = (members: [number, number][][]) => historyOf(members, day);
const TEST_TO = day(20);

/** Classes c0…c6 aired on the given days (NaN: unknown air date). */
function catalogueOf(airedDays: number[]): Catalogue {
  const ids = airedDays.map((_, c) => `c${c}`);
  return Catalogue.fromColumns({
    ids,
    titles: ids,
    disciplineNames: ids.map((_, c) => (c % 2 === 0 ? 'Yoga' : 'Cycling')),
    durations: ids.map(() => 30),
    instructorIds: ids.map((_, c) => `i${c % 3}`),
    instructorNamesByClass: ids.map((_, c) => `Instructor ${c % 3}`),
    languages: ids.map(() => 'en'),
    aired: airedDays.map((d) => (Number.isNaN(d) ? Number.NaN : day(d))),
    encore: ids.map(() => false),
  });
}


/**
 * c0…c3 aired long before the test period; c4 airs exactly at testFrom, c5 a day into it (neither
 * is on offer); c6's air date is unknown (on offer).
 */
const catalogue = catalogueOf([-30, -30, -20, -10, 10, 11, Number.NaN]);

/*
 * m0: before 0, 1 | test: 1 (taken before), 2, 4 (aired at testFrom), 3, 2 (again) | 0 on day 25 (after testTo)
 *     → relevant {2, 3}, next 2
 * m1: nothing before testFrom (cold start) → skipped
 * m2: before 2 | test: 2 (taken before), 5 (not on offer) → nothing relevant, skipped
 * m3: before 3 | test: 5 (not on offer), 0, 6 → relevant {0, 6}, next 0 (the first *relevant* class)
 * m4: before 1 | test: 3 exactly at testFrom (counts as test), 2 → relevant {3, 2}, next 3
 * m5: before 0, 1 | nothing after → skipped
 * m6: no workouts at all → skipped
 */
const history = historyOfDays([
  [
    [0, 1],
    [1, 2],
    [1, 11],
    [2, 12],
    [4, 13],
    [3, 14],
    [2, 15],
    [0, 25],
  ],
  [[0, 11]],
  [
    [2, 3],
    [2, 12],
    [5, 13],
  ],
  [
    [3, 5],
    [5, 12],
    [0, 14],
    [6, 15],
  ],
  [
    [1, 0],
    [3, 10],
    [2, 19],
  ],
  [
    [0, 9],
    [1, 9.5],
  ],
  [],
]);

describe('historyBefore', () => {
  it("keeps exactly each member's workouts before the time, as a CSR prefix per member", () => {
    const before = historyBefore(history, TEST_FROM);
    expect(before.memberIds).toEqual(history.memberIds);
    expect(Array.from(before.offsets)).toEqual([0, 2, 2, 3, 4, 5, 7, 7]);
    expect(Array.from(before.classIdx)).toEqual([0, 1, 2, 3, 1, 0, 1]);
    expect(Array.from(before.startedAt)).toEqual([1, 2, 3, 5, 0, 9, 9.5].map(day));
    // A workout exactly at the cut (m4's class 3 at testFrom) is not before it.
    expect(before.workoutsOf(4)).toEqual({ start: 4, end: 5 });
  });

  it('is the whole history when the cut is after everything, and empty when before everything', () => {
    const all = historyBefore(history, day(100));
    expect(Array.from(all.offsets)).toEqual(Array.from(history.offsets));
    expect(Array.from(all.classIdx)).toEqual(Array.from(history.classIdx));
    expect(Array.from(all.startedAt)).toEqual(Array.from(history.startedAt));
    const none = historyBefore(history, day(-1));
    expect(none.workoutCount).toBe(0);
    expect(none.memberCount).toBe(history.memberCount);
  });
});

describe('holdoutSplit', () => {
  const split = holdoutSplit(catalogue, history, TEST_FROM, TEST_TO);

  it('offers the classes aired before testFrom (unknown air dates included)', () => {
    expect(Array.from(split.onOffer)).toEqual([1, 1, 1, 1, 0, 0, 1]);
    expect(split.testFrom).toBe(TEST_FROM);
    expect(split.testTo).toBe(TEST_TO);
    expect(Array.from(split.train.offsets)).toEqual(Array.from(historyBefore(history, TEST_FROM).offsets));
  });

  it('evaluates members with history and something relevant; relevant = new, on offer, in [testFrom, testTo)', () => {
    expect(Array.from(split.members)).toEqual([0, 3, 4]);
    expect(split.relevant.map((s) => [...s].sort())).toEqual([
      [2, 3],
      [0, 6],
      [2, 3],
    ]);
  });

  it('next is the first relevant class in time order', () => {
    expect(Array.from(split.next)).toEqual([2, 0, 3]);
  });

  it('maxMembers keeps an evenly spaced sample, relevant and next aligned with it', () => {
    // Ten members: each takes c0 before testFrom and c(m % 6) in the test period.
    const many = historyOfDays(
      Array.from({ length: 10 }, (_, m): [number, number][] => [
        [0, 1],
        [m % 6, 12],
      ]),
    );
    // m0 and m6 retake c0 (nothing new); m4 and m5 take c4 / c5, not on offer here: skipped.
    const full = holdoutSplit(catalogue, many, TEST_FROM, TEST_TO);
    expect(Array.from(full.members)).toEqual([1, 2, 3, 7, 8, 9]);
    // With every class aired long ago, m4 and m5 count.
    const onOffer = holdoutSplit(catalogueOf([-30, -30, -20, -10, -5, -5, -5]), many, TEST_FROM, TEST_TO);
    expect(Array.from(onOffer.members)).toEqual([1, 2, 3, 4, 5, 7, 8, 9]);
    const sample = holdoutSplit(catalogueOf([-30, -30, -20, -10, -5, -5, -5]), many, TEST_FROM, TEST_TO, { maxMembers: 4 });
    // Eight eligible, four kept: positions 0, 2, 4, 6 of [1, 2, 3, 4, 5, 7, 8, 9].
    expect(Array.from(sample.members)).toEqual([1, 3, 5, 8]);
    expect(sample.relevant.map((s) => [...s])).toEqual([[1], [3], [5], [2]]);
    expect(Array.from(sample.next)).toEqual([1, 3, 5, 2]);
    // A limit at or above the count keeps everyone.
    expect(Array.from(holdoutSplit(catalogue, history, TEST_FROM, TEST_TO, { maxMembers: 3 }).members)).toEqual([0, 3, 4]);
  });
});

describe('evaluateHoldout', () => {
  const split = holdoutSplit(catalogue, history, TEST_FROM, TEST_TO);
  const INV_LOG2_3 = 1 / Math.log2(3);
  const IDEAL_2 = 1 + INV_LOG2_3;

  /** A candidate with fixed rankings per member, recording the batches it was asked for. */
  function fixed(name: string, rankings: Record<number, number[]>, probabilities?: Record<number, number[]>) {
    const calls: { members: number[]; depth: number }[] = [];
    let disposed = 0;
    const candidate: HoldoutCandidate = {
      name,
      rank(members, depth): RankedBatch {
        calls.push({ members: Array.from(members), depth });
        const ranked = Array.from(members, (m) => rankings[m]!);
        return probabilities ? { ranked, probability: Array.from(members, (m) => probabilities[m]!) } : { ranked };
      },
      dispose: () => void (disposed += 1),
    };
    return { candidate, calls, disposed: () => disposed };
  }

  // m0 (relevant {2, 3}): hits at ranks 2 and 4 → DCG 1/log2 3 + 1/log2 5, recall 1.
  // m3 (relevant {0, 6}): hit at rank 6 → DCG 1/log2 7, recall 1/2.
  // m4 (relevant {2, 3}): no hit → 0, 0.
  const rankings = { 0: [1, 2, 0, 3], 3: [4, 5, 1, 2, 3, 0], 4: [0, 1] };
  const ndcgs = [(INV_LOG2_3 + 1 / Math.log2(5)) / IDEAL_2, 1 / Math.log2(7) / IDEAL_2, 0];

  it('gives the hand-computed nDCG@10 and recall@10 averaged over members', () => {
    const { candidate, calls, disposed } = fixed('fake', rankings);
    const result = evaluateHoldout(split, catalogue.size, [candidate]);
    expect(Object.keys(result)).toEqual(['fake']);
    const m = result['fake']!;
    expect(m['ndcg@10']).toBeCloseTo((ndcgs[0]! + ndcgs[1]! + ndcgs[2]!) / 3, 12);
    expect(m['ndcg@10']).toBeCloseTo(0.2897761, 6);
    expect(m['recall@10']).toBeCloseTo((1 + 0.5 + 0) / 3, 12);
    expect(m['recall@50']).toBeCloseTo(0.5, 12);
    expect(m['members']).toBe(3);
    // No probabilities: no calibration figures.
    expect(m['ece']).toBeUndefined();
    // One batch of every member, at the default depth; disposed once.
    expect(calls).toEqual([{ members: [0, 3, 4], depth: 100 }]);
    expect(disposed()).toBe(1);
  });

  it('ranks in batches and keeps each batch aligned with its members’ relevant sets', () => {
    const { candidate, calls } = fixed('fake', rankings);
    const batched = evaluateHoldout(split, catalogue.size, [candidate], { batchSize: 2, depth: 7 })['fake']!;
    expect(calls).toEqual([
      { members: [0, 3], depth: 7 },
      { members: [4], depth: 7 },
    ]);
    expect(batched['ndcg@10']).toBeCloseTo((ndcgs[0]! + ndcgs[1]! + ndcgs[2]!) / 3, 12);
    expect(batched['recall@10']).toBeCloseTo(0.5, 12);
  });

  it('a perfect ranking scores 1 and candidates are evaluated independently', () => {
    const perfect = fixed('perfect', { 0: [3, 2], 3: [6, 0], 4: [2, 3] });
    const fake = fixed('fake', rankings);
    const result = evaluateHoldout(split, catalogue.size, [perfect.candidate, fake.candidate]);
    expect(result['perfect']!['ndcg@10']).toBeCloseTo(1, 12);
    expect(result['perfect']!['recall@10']).toBeCloseTo(1, 12);
    expect(result['fake']!['ndcg@10']).toBeCloseTo(0.2897761, 6);
  });

  it('with probabilities, calibration pairs each ranked class with "was it next"', () => {
    // next = [2, 0, 3]. Pairs (p, y): m0 (0.1,0) (0.5,1) (0.2,0) (0.1,0); m3 six classes at 0.05,
    // y = 1 only for class 0 (rank 6); m4 (0.3,0) (0.2,0). 12 pairs, 2 positives.
    const probabilities = { 0: [0.1, 0.5, 0.2, 0.1], 3: [0.05, 0.05, 0.05, 0.05, 0.05, 0.05], 4: [0.3, 0.2] };
    const { candidate } = fixed('fake', rankings, probabilities);
    const m = evaluateHoldout(split, catalogue.size, [candidate])['fake']!;
    expect(m['meanPredicted']).toBeCloseTo((0.1 + 0.5 + 0.2 + 0.1 + 6 * 0.05 + 0.3 + 0.2) / 12, 6);
    expect(m['meanObserved']).toBeCloseTo(2 / 12, 12);
    expect(m['ece']).toBeGreaterThanOrEqual(0);
  });
});

describe('popularityCandidate', () => {
  it('never ranks a class the member took before testFrom or one not on offer', () => {
    const split = holdoutSplit(catalogue, history, TEST_FROM, TEST_TO);
    const { ranked } = popularityCandidate(catalogue, split).rank(split.members, 10);
    const takenBefore = [[0, 1], [3], [1]];
    ranked.forEach((list, i) => {
      const classes = Array.from(list);
      // On offer: 0, 1, 2, 3, 6 — less what the member took.
      expect(classes.sort()).toEqual([0, 1, 2, 3, 6].filter((c) => !takenBefore[i]!.includes(c)));
    });
  });
});
