/**
 * Offline metrics against hand-computed values. log2 3 = 1.5849625…, so 1/log2 3 = 0.6309298;
 * 1/log2 4 = 0.5; 1/log2 6 = 0.3868528.
 */
import { describe, expect, it } from 'vitest';
import { CalibrationAccumulator, CoverageCounter, RankingEvaluator, ndcgAtK, recallAtK } from '../../model/evaluation/metrics.ts';

const INV_LOG2_3 = 1 / Math.log2(3);

describe('recall@k and nDCG@k', () => {
  const ranked = [3, 1, 4, 1, 5];
  const relevant = new Set([1, 5, 9]);

  it('k = 3: one hit (class 1) at position 1', () => {
    // Hits in [3, 1, 4]: {1} → 1 / |{1, 5, 9}| = 1/3.
    expect(recallAtK(ranked, relevant, 3)).toBeCloseTo(1 / 3, 12);
    // DCG = 1/log2(1+2) = 0.6309298; IDCG = min(3, 3) hits = 1 + 1/log2 3 + 1/2 = 2.1309298;
    // nDCG = 0.6309298 / 2.1309298 = 0.2960819.
    expect(ndcgAtK(ranked, relevant, 3)).toBeCloseTo(INV_LOG2_3 / (1 + INV_LOG2_3 + 0.5), 12);
    expect(ndcgAtK(ranked, relevant, 3)).toBeCloseTo(0.2960819, 6);
  });

  it('k = 5: the repeated class 1 counts once; 5 is found at position 4', () => {
    // Hits {1, 5} → 2/3.
    expect(recallAtK(ranked, relevant, 5)).toBeCloseTo(2 / 3, 12);
    // DCG = 1/log2 3 + 1/log2 6 = 0.6309298 + 0.3868528 = 1.0177826 (position 3, the second 1,
    // gains nothing); IDCG as above (min(5, 3) = 3 hits) → 1.0177826 / 2.1309298 = 0.4776242.
    expect(ndcgAtK(ranked, relevant, 5)).toBeCloseTo((INV_LOG2_3 + 1 / Math.log2(6)) / (1 + INV_LOG2_3 + 0.5), 12);
    expect(ndcgAtK(ranked, relevant, 5)).toBeCloseTo(0.4776242, 6);
  });

  it('a perfect ranking scores 1, one with no hits 0', () => {
    expect(ndcgAtK([9, 5, 1, 0], relevant, 3)).toBe(1);
    expect(recallAtK([9, 5, 1, 0], relevant, 3)).toBe(1);
    // More relevant classes than k: the ideal fills all k places, so the top 10 of 20 is perfect.
    const twenty = new Set(Array.from({ length: 20 }, (_, i) => i));
    expect(ndcgAtK([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], twenty, 10)).toBeCloseTo(1, 12);
    expect(recallAtK([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], twenty, 10)).toBe(0.5);
    expect(ndcgAtK([0, 2, 4], relevant, 3)).toBe(0);
    expect(recallAtK([0, 2, 4], relevant, 3)).toBe(0);
  });

  it('a ranking shorter than k is scored on what it has', () => {
    // [7] with relevant {7, 8}: recall 1/2; DCG 1, IDCG (2 hits) 1 + 1/log2 3 → 1/1.6309298 = 0.6131472.
    expect(recallAtK([7], new Set([7, 8]), 10)).toBe(0.5);
    expect(ndcgAtK(new Int32Array([7]), new Set([7, 8]), 10)).toBeCloseTo(1 / (1 + INV_LOG2_3), 12);
  });

  it('throws on no relevant classes and on a bad k', () => {
    expect(() => recallAtK([1, 2], new Set(), 10)).toThrow(/no relevant/);
    expect(() => ndcgAtK([1, 2], new Set(), 10)).toThrow(/no relevant/);
    expect(() => recallAtK([1, 2], relevant, 0)).toThrow(/positive integer/);
    expect(() => ndcgAtK([1, 2], relevant, 2.5)).toThrow(/positive integer/);
  });
});

describe('CoverageCounter', () => {
  it('counts distinct classes in anyone’s top k, over the catalogue size', () => {
    const coverage = new CoverageCounter();
    coverage.add([0, 1, 2, 3], 2); // {0, 1}
    coverage.add(new Int32Array([1, 5, 6]), 2); // {0, 1, 5}
    expect(coverage.distinct).toBe(3);
    expect(coverage.coverage(10)).toBeCloseTo(0.3, 12);
    // A class past the catalogue (a stale index) grows the marks but is not counted.
    coverage.add([5000], 1);
    expect(coverage.distinct).toBe(4);
    expect(coverage.coverage(10)).toBeCloseTo(0.3, 12);
    expect(() => coverage.add([-1], 1)).toThrow(/non-negative/);
  });
});

describe('CalibrationAccumulator', () => {
  const fill = (pairs: [number, number][]) => {
    const acc = new CalibrationAccumulator();
    for (const [p, y] of pairs) acc.add(p, y);
    return acc;
  };

  it('perfectly calibrated bins give 0', () => {
    // 10 × p = 0.2 with 2 positives, 10 × p = 0.8 with 8 positives; two equal-count bins are
    // exactly those groups: |0.2 − 2/10| = |0.8 − 8/10| = 0 (up to float32 storage of 0.2, 0.8).
    const pairs: [number, number][] = [];
    for (let i = 0; i < 10; i++) pairs.push([0.2, i < 2 ? 1 : 0], [0.8, i < 8 ? 1 : 0]);
    const acc = fill(pairs);
    expect(acc.expectedCalibrationError(2)).toBeCloseTo(0, 6);
    expect(acc.meanPredicted).toBeCloseTo(0.5, 6);
    expect(acc.meanObserved).toBe(0.5);
  });

  it('p = 0.5 everywhere with every y = 1 is off by 0.5', () => {
    const acc = fill(Array.from({ length: 40 }, (): [number, number] => [0.5, 1]));
    expect(acc.expectedCalibrationError()).toBe(0.5);
    expect(acc.meanPredicted).toBe(0.5);
    expect(acc.meanObserved).toBe(1);
  });

  it('bins are equal-count groups in probability order, whatever the insertion order', () => {
    // Sorted: (0.1, 0) (0.2, 1) | (0.3, 1) (0.4, 1).
    // 2 bins: ½·|0.15 − 0.5| + ½·|0.35 − 1| = ½·0.35 + ½·0.65 = 0.5.
    // 4 bins: ¼·(|0.1 − 0| + |0.2 − 1| + |0.3 − 1| + |0.4 − 1|) = ¼·(0.1 + 0.8 + 0.7 + 0.6) = 0.55.
    // 1 bin: |0.25 − 0.75| = 0.5.
    const acc = fill([
      [0.3, 1],
      [0.1, 0],
      [0.4, 1],
      [0.2, 1],
    ]);
    expect(acc.expectedCalibrationError(2)).toBeCloseTo(0.5, 6);
    expect(acc.expectedCalibrationError(4)).toBeCloseTo(0.55, 6);
    expect(acc.expectedCalibrationError(1)).toBeCloseTo(0.5, 6);
    // Fewer pairs than bins: each pair its own bin, the rest empty and weightless.
    // (0.2, 0) (0.4, 1) (0.6, 1): (0.2 + 0.6 + 0.4) / 3 = 0.4.
    expect(fill([[0.6, 1], [0.2, 0], [0.4, 1]]).expectedCalibrationError(15)).toBeCloseTo(0.4, 6);
  });

  it('ties across a bin boundary share their positives in proportion', () => {
    // 100 × p = 0.5, the first 50 positive: insertion order would put all positives in bin 1
    // (|0.5 − 1| and |0.5 − 0| → 0.5); tied pairs have no order, so each bin gets 25 → 0.
    const acc = fill(Array.from({ length: 100 }, (_, i): [number, number] => [0.5, i < 50 ? 1 : 0]));
    expect(acc.expectedCalibrationError(2)).toBeCloseTo(0, 12);
    // A tie run inside the middle: (0.1, 0) (0.5, 1) (0.5, 0) (0.9, 1) in 2 bins. Sorted
    // position 2 cuts the tie in half, so bin 1 holds ½ positive: |0.6 − 0.5| + |1.4 − 1.5| = 0.2 → /4 = 0.05.
    const mixed = fill([
      [0.9, 1],
      [0.5, 1],
      [0.1, 0],
      [0.5, 0],
    ]);
    expect(mixed.expectedCalibrationError(2)).toBeCloseTo(0.05, 6);
  });

  it('handles millions of pairs; y ~ Bernoulli(p) is well calibrated', () => {
    let state = 12345;
    const random = () => {
      // mulberry32
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const acc = new CalibrationAccumulator();
    for (let i = 0; i < 2_000_000; i++) {
      const p = random() ** 3; // crowded near 0, as ranker probabilities are
      acc.add(p, random() < p);
    }
    expect(acc.count).toBe(2_000_000);
    expect(acc.expectedCalibrationError()).toBeLessThan(0.005);
    expect(Math.abs(acc.meanPredicted - acc.meanObserved)).toBeLessThan(0.002);
  });

  it('rejects what is not a probability or an outcome; empty is NaN', () => {
    const acc = new CalibrationAccumulator();
    expect(acc.expectedCalibrationError()).toBeNaN();
    expect(() => acc.add(1.5, 1)).toThrow(/\[0, 1\]/);
    expect(() => acc.add(Number.NaN, 1)).toThrow(/\[0, 1\]/);
    expect(() => acc.add(0.5, 2)).toThrow(/0 or 1/);
  });
});

describe('RankingEvaluator', () => {
  it('averages per member and pools calibration pairs (hand-computed)', () => {
    const evaluator = new RankingEvaluator({ ndcgAt: [3], recallAt: [3, 5], coverageAt: [2], calibrationDepth: 2, calibrationBins: 1 });
    // A: as in the recall/nDCG cases — nDCG@3 0.2960819, recall@3 1/3, recall@5 2/3.
    evaluator.add({ ranked: [3, 1, 4, 1, 5], scores: [0.5, 0.25, 0.1, 0.1, 0.05], relevant: new Set([1, 5, 9]), next: 1 });
    // B: the one relevant class first — nDCG 1, recall 1.
    evaluator.add({ ranked: new Int32Array([2, 7, 8]), scores: new Float64Array([0.75, 0.125, 0.1]), relevant: new Set([2]), next: 2 });
    const r = evaluator.result(10);
    expect(Object.keys(r).sort()).toEqual(['coverage@2', 'ece', 'meanObserved', 'meanPredicted', 'members', 'ndcg@3', 'recall@3', 'recall@5']);
    expect(r['ndcg@3']).toBeCloseTo((0.2960819 + 1) / 2, 6);
    expect(r['recall@3']).toBeCloseTo((1 / 3 + 1) / 2, 12);
    expect(r['recall@5']).toBeCloseTo((2 / 3 + 1) / 2, 12);
    // Top 2s {3, 1} ∪ {2, 7} = 4 classes of 10.
    expect(r['coverage@2']).toBeCloseTo(0.4, 12);
    expect(r['members']).toBe(2);
    // Depth 2 pairs: A (0.5, 0) (0.25, 1); B (0.75, 1) (0.125, 0). Mean p = 1.625/4 = 0.40625,
    // mean y = 0.5; one bin → ECE = |0.40625 − 0.5| = 0.09375.
    expect(r['meanPredicted']).toBe(0.40625);
    expect(r['meanObserved']).toBe(0.5);
    expect(r['ece']).toBeCloseTo(0.09375, 12);
  });

  it('default keys; calibration only when every member has probabilities', () => {
    const plain = new RankingEvaluator();
    plain.add({ ranked: [1, 2, 3], relevant: new Set([2]) });
    const r = plain.result(100);
    expect(Object.keys(r).sort()).toEqual(['coverage@10', 'members', 'ndcg@10', 'recall@10', 'recall@50']);
    // Relevant class at position 1: DCG = 1/log2 3, IDCG = 1.
    expect(r['ndcg@10']).toBeCloseTo(INV_LOG2_3, 12);
    expect(r['coverage@10']).toBeCloseTo(0.03, 12);

    const mixed = new RankingEvaluator();
    mixed.add({ ranked: [1, 2, 3], scores: [0.3, 0.2, 0.1], relevant: new Set([2]), next: 2 });
    mixed.add({ ranked: [1, 2, 3], relevant: new Set([3]) });
    expect(Object.keys(mixed.result(100))).not.toContain('ece');

    const scored = new RankingEvaluator();
    scored.add({ ranked: [1, 2, 3], scores: [0.3, 0.2, 0.1], relevant: new Set([2]), next: 2 });
    expect(Object.keys(scored.result(100)).sort()).toEqual(['coverage@10', 'ece', 'meanObserved', 'meanPredicted', 'members', 'ndcg@10', 'recall@10', 'recall@50']);
  });

  it('an empty evaluation is all zeros (finite), and bad input throws', () => {
    const r = new RankingEvaluator().result(50);
    expect(r).toEqual({ 'ndcg@10': 0, 'recall@10': 0, 'recall@50': 0, 'coverage@10': 0, members: 0 });
    for (const v of Object.values(r)) expect(Number.isFinite(v)).toBe(true);
    const evaluator = new RankingEvaluator();
    expect(() => evaluator.add({ ranked: [1], relevant: new Set() })).toThrow(/no relevant/);
    expect(() => evaluator.add({ ranked: [1], scores: [0.5], relevant: new Set([1]) })).toThrow(/next/);
    expect(() => evaluator.add({ ranked: [1, 2], scores: [0.5], relevant: new Set([1]), next: 1 })).toThrow(/1 scores/);
    expect(() => new RankingEvaluator({ recallAt: [0] })).toThrow(/positive integer/);
  });
});
