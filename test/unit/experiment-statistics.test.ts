/**
 * Experiment statistics against hand-computed cases. Φ is the standard normal CDF; z₀.₉₇₅ =
 * 1.959964. The chi-square tail with 1 df is 2(1 − Φ(√x)), with 2 df it is exactly e^(−x/2).
 */
import { describe, expect, it } from 'vitest';
import { meanLift, ratioLift, ratioMetric, sampleRatioMismatch, twoProportionLift } from '../../model/experiments/statistics.ts';

const Z95 = 1.959963984540054;

describe('twoProportionLift', () => {
  it('100/1000 vs 120/1000', () => {
    const lift = twoProportionLift({ successes: 100, trials: 1000 }, { successes: 120, trials: 1000 });
    // pB = 0.1, pT = 0.12 → relative = 0.12/0.1 − 1 = 0.2.
    expect(lift.relative).toBeCloseTo(0.2, 12);
    // Delta method on the log ratio: varB = 0.1·0.9/1000 = 9e-5, varT = 0.12·0.88/1000 = 1.056e-4;
    // Var(ln(pT/pB)) = varT/pT² + varB/pB² = 0.0073333 + 0.009 = 0.0163333, sd 0.1278019,
    // half-width 1.959964·0.1278019 = 0.2504872; ln 1.2 = 0.1823216 →
    // [e^(−0.0681656) − 1, e^(0.4328088) − 1] = [−0.0658942, 0.5415813].
    expect(lift.ciLow).toBeCloseTo(-0.0658942, 6);
    expect(lift.ciHigh).toBeCloseTo(0.5415813, 6);
    // Pooled p̄ = 220/2000 = 0.11; se = √(0.11·0.89·(2/1000)) = √1.958e-4 = 0.01399286;
    // z = 0.02/0.01399286 = 1.429301; p = 2(1 − Φ(1.429301)) = 0.152918.
    expect(lift.pValue).toBeCloseTo(0.152918, 5);
  });

  it('a small sample: the interval and the test agree (10/40 vs 20/40)', () => {
    // Pooled p̄ = 0.375, se = √(0.375·0.625·(2/40)) = 0.1082532, z = 0.25/0.1082532 = 2.309401, p = 0.0209.
    // Var(ln 2) = (0.5·0.5/40)/0.25 + (0.25·0.75/40)/0.0625 = 0.025 + 0.075 = 0.1, sd 0.3162278 →
    // [2e^(−0.6197963) − 1, 2e^(0.6197963) − 1] = [0.0761094, 2.7170941]: zero is outside, as p < 0.05
    // says (the linear delta interval, 1 ± 1.2395927, would have crossed it).
    const lift = twoProportionLift({ successes: 10, trials: 40 }, { successes: 20, trials: 40 });
    expect(lift.pValue).toBeCloseTo(0.020921, 5);
    expect(lift.ciLow).toBeCloseTo(0.0761094, 6);
    expect(lift.ciHigh).toBeCloseTo(2.7170941, 6);
  });

  it('swapping the arms keeps the p-value but not the lift (100/120 − 1 = −1/6)', () => {
    const lift = twoProportionLift({ successes: 120, trials: 1000 }, { successes: 100, trials: 1000 });
    expect(lift.relative).toBeCloseTo(-1 / 6, 12);
    expect(lift.pValue).toBeCloseTo(0.152918, 5);
  });

  it('a large sample detects a 2-point difference: 1000/10000 vs 1200/10000', () => {
    // p̄ = 0.11, se = √(0.11·0.89·2e-4) = 0.004424929, z = 0.02/0.004424929 = 4.519847,
    // p = 2(1 − Φ(4.519847)) ≈ 6.19e-6: the tail is kept (Φ(−|z|), not 1 − Φ(|z|)).
    const lift = twoProportionLift({ successes: 1000, trials: 10_000 }, { successes: 1200, trials: 10_000 });
    expect(lift.pValue!).toBeGreaterThan(5e-6);
    expect(lift.pValue!).toBeLessThan(7e-6);
    // Var(ln ratio) shrinks tenfold: 0.00163333, sd 0.0404145, half-width 0.0792110 →
    // [e^(0.1031106) − 1, e^(0.2615326) − 1] = [0.1086140, 0.2989192]: asymmetric around 0.2.
    expect(lift.ciLow).toBeCloseTo(0.108614, 6);
    expect(lift.ciHigh).toBeCloseTo(0.2989192, 6);
  });

  it('treatment at 0 keeps a finite interval (relative −1)', () => {
    // pB = 0.1 (n 100), pT = 0: Var(rel) = varT/pB² + pT²·varB/pB⁴ = 0 + 0 → [−1, −1].
    const lift = twoProportionLift({ successes: 10, trials: 100 }, { successes: 0, trials: 100 });
    expect(lift.relative).toBe(-1);
    expect(lift.ciLow).toBe(-1);
    expect(lift.ciHigh).toBe(-1);
    // p̄ = 0.05, se = √(0.05·0.95·0.02) = 0.0308221, z = −3.244428, p = 0.001177.
    expect(lift.pValue).toBeCloseTo(0.001177, 5);
  });

  it('degenerate inputs give nulls, never NaN or Infinity', () => {
    const none = { relative: null, ciLow: null, ciHigh: null, pValue: null };
    expect(twoProportionLift({ successes: 0, trials: 0 }, { successes: 5, trials: 100 })).toEqual(none);
    expect(twoProportionLift({ successes: 5, trials: 100 }, { successes: 0, trials: 0 })).toEqual(none);
    // Baseline 0: no relative lift, but the difference 0 vs 5% is still tested:
    // p̄ = 0.025, se = √(0.025·0.975·0.02) = 0.02208, z = 2.264554, p = 0.023540.
    const zeroBase = twoProportionLift({ successes: 0, trials: 100 }, { successes: 5, trials: 100 });
    expect(zeroBase.relative).toBeNull();
    expect(zeroBase.ciLow).toBeNull();
    expect(zeroBase.ciHigh).toBeNull();
    expect(zeroBase.pValue).toBeCloseTo(0.02354, 5);
    // Everyone converted in both arms: p̄ = 1, no variance → no test; the lift is exactly 0.
    const all = twoProportionLift({ successes: 50, trials: 50 }, { successes: 40, trials: 40 });
    expect(all).toEqual({ relative: 0, ciLow: 0, ciHigh: 0, pValue: null });
  });

  it('rejects impossible counts', () => {
    expect(() => twoProportionLift({ successes: 11, trials: 10 }, { successes: 1, trials: 10 })).toThrow(RangeError);
    expect(() => twoProportionLift({ successes: 1, trials: 10 }, { successes: -1, trials: 10 })).toThrow(RangeError);
    expect(() => twoProportionLift({ successes: 1.5, trials: 10 }, { successes: 1, trials: 10 })).toThrow(RangeError);
  });
});

describe('ratioMetric (delta method, randomised by member)', () => {
  // Four members: conversions x = [1, 0, 2, 3], impressions y = [5, 4, 10, 6].
  const x = [1, 0, 2, 3];
  const y = [5, 4, 10, 6];

  it('computes R and its variance step by step', () => {
    // Σx = 6, Σy = 25 → R = 0.24; n = 4, x̄ = 1.5, ȳ = 6.25, ȳ² = 39.0625.
    // x − x̄ = [−0.5, −1.5, 0.5, 1.5] → Σ² = 5 → s²x = 5/3 = 1.6666667.
    // y − ȳ = [−1.25, −2.25, 3.75, −0.25] → Σ² = 1.5625 + 5.0625 + 14.0625 + 0.0625 = 20.75 → s²y = 6.9166667.
    // Σ(x − x̄)(y − ȳ) = 0.625 + 3.375 + 1.875 − 0.375 = 5.5 → sxy = 1.8333333.
    // s²x − 2R·sxy + R²·s²y = 1.6666667 − 0.88 + 0.0576·6.9166667 (= 0.3984) = 1.1850667.
    // variance = 1.1850667 / (4 · 39.0625) = 1.1850667 / 156.25 = 0.00758443.
    const r = ratioMetric(x, y);
    expect(r.value).toBeCloseTo(0.24, 12);
    expect(r.variance).toBeCloseTo(0.0075844267, 9);
    expect(r.units).toBe(4);
  });

  it('accepts typed arrays', () => {
    const r = ratioMetric(Float64Array.from(x), Int32Array.from(y));
    expect(r.variance).toBeCloseTo(0.0075844267, 9);
  });

  it('is larger than the naive binomial variance when members differ', () => {
    // Treating the 25 impressions as Bernoulli trials: 0.24·0.76/25 = 0.007296 < 0.0075844.
    expect(ratioMetric(x, y).variance!).toBeGreaterThan((0.24 * 0.76) / 25);
  });

  it('has zero variance when every member has the same ratio', () => {
    // x = 0.5·y exactly: s²x − 2R·sxy + R²·s²y = s²y(0.25 − 0.5 + 0.25) = 0.
    const r = ratioMetric([1, 2, 3], [2, 4, 6]);
    expect(r.value).toBe(0.5);
    expect(r.variance).toBeCloseTo(0, 15);
    expect(r.variance!).toBeGreaterThanOrEqual(0);
  });

  it('degenerate inputs give nulls', () => {
    expect(ratioMetric([], [])).toEqual({ value: null, variance: null, units: 0 });
    expect(ratioMetric([0, 0], [0, 0])).toEqual({ value: null, variance: null, units: 2 });
    expect(ratioMetric([1], [4])).toEqual({ value: 0.25, variance: null, units: 1 });
    expect(() => ratioMetric([1, 2], [3])).toThrow(RangeError);
    expect(() => ratioMetric([1, Number.NaN], [3, 4])).toThrow(RangeError);
  });
});

describe('ratioLift', () => {
  it('baseline 0.24 (var 0.00758443) vs treatment 0.30 (var 0.01)', () => {
    const baseline = ratioMetric([1, 0, 2, 3], [5, 4, 10, 6]);
    const lift = ratioLift(baseline, { value: 0.3, variance: 0.01, units: 4 });
    // relative = 0.3/0.24 − 1 = 0.25.
    expect(lift.relative).toBeCloseTo(0.25, 12);
    // Var(ln ratio) = 0.01/0.09 + 0.00758443/0.0576 = 0.1111111 + 0.1316741 = 0.2427852;
    // sd = 0.4927324 → half-width 0.9657379; ln 1.25 = 0.2231436 →
    // [e^(−0.7425943) − 1, e^(1.1888815) − 1] = [−0.5241222, 2.2834058].
    expect(lift.ciLow).toBeCloseTo(-0.5241222, 6);
    expect(lift.ciHigh).toBeCloseTo(2.2834058, 6);
    // z = 0.06/√(0.01 + 0.00758443) = 0.06/0.1326063 = 0.4524672; p = 2(1 − Φ(0.4524672)) = 0.650932.
    expect(lift.pValue).toBeCloseTo(0.650932, 5);
  });

  it('nulls when an arm has no estimate or the baseline is 0', () => {
    const ok = { value: 0.3, variance: 0.01, units: 10 };
    expect(ratioLift({ value: null, variance: null, units: 0 }, ok)).toEqual({ relative: null, ciLow: null, ciHigh: null, pValue: null });
    expect(ratioLift(ok, { value: 0.3, variance: null, units: 1 }).pValue).toBeNull();
    const zero = ratioLift({ value: 0, variance: 0.001, units: 10 }, ok);
    expect(zero.relative).toBeNull();
    expect(zero.ciLow).toBeNull();
    // z = 0.3/√0.011 = 2.860388 → p = 0.004231.
    expect(zero.pValue).toBeCloseTo(0.004231, 5);
  });
});

describe('meanLift (Welch, normal approximation)', () => {
  it('[1..5] vs [2, 4, 6, 8, 10]', () => {
    // Baseline mean 3, s² = (4+1+0+1+4)/4 = 2.5 → var of mean 0.5; treatment mean 6, s² = 10 → 2.
    // relative = 6/3 − 1 = 1; Var(ln ratio) = 2/36 + 0.5/9 = 1/9, sd = 1/3 →
    // [2·e^(−Z/3) − 1, 2·e^(Z/3) − 1] = [0.0406295, 2.8438271].
    const lift = meanLift([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]);
    expect(lift.relative).toBeCloseTo(1, 12);
    expect(lift.ciLow).toBeCloseTo(2 * Math.exp(-Z95 / 3) - 1, 9);
    expect(lift.ciHigh).toBeCloseTo(2 * Math.exp(Z95 / 3) - 1, 9);
    expect(lift.ciLow).toBeCloseTo(0.0406295, 6);
    // se = √(0.5 + 2) = 1.5811388, z = 3/1.5811388 = 1.8973666, p = 2(1 − Φ(1.8973666)) = 0.0577796.
    expect(lift.pValue).toBeCloseTo(0.0577796, 6);
  });

  it('nulls below two members an arm, at a zero baseline mean, or with no spread', () => {
    expect(meanLift([1], [1, 2, 3])).toEqual({ relative: null, ciLow: null, ciHigh: null, pValue: null });
    const zero = meanLift([0, 0, 0], [1, 2, 3]);
    expect(zero.relative).toBeNull();
    // Baseline has no spread, treatment s² = 1 → se = √(1/3); z = 2/0.5773503 = 3.4641016; p = 0.000532.
    expect(zero.pValue).toBeCloseTo(0.000532, 5);
    expect(meanLift([2, 2], [2, 2])).toEqual({ relative: 0, ciLow: 0, ciHigh: 0, pValue: null });
  });
});

describe('sampleRatioMismatch', () => {
  it('flags 5200/4800 of 10,000 at 50/50', () => {
    // Expected 5000 each: χ² = 200²/5000 + 200²/5000 = 16, df 1 → p = 2(1 − Φ(4)) = 6.334e-5 < 0.001.
    const srm = sampleRatioMismatch([5200, 4800], [50, 50]);
    expect(srm.chiSquare).toBeCloseTo(16, 10);
    expect(srm.pValue).toBeCloseTo(6.334248e-5, 9);
    expect(srm.flagged).toBe(true);
  });

  it('does not flag 5030/4970', () => {
    // χ² = 2·30²/5000 = 0.36 → p = 2(1 − Φ(0.6)) = 0.548506.
    const srm = sampleRatioMismatch([5030, 4970], [50, 50]);
    expect(srm.chiSquare).toBeCloseTo(0.36, 10);
    expect(srm.pValue).toBeCloseTo(0.548506, 5);
    expect(srm.flagged).toBe(false);
  });

  it('matches chi-square tables: 3.8416 at 1 df ≈ 0.05; 2 df is e^(−x/2)', () => {
    // 5098/4902: χ² = 2·98²/5000 = 3.8416 (table: 3.841 ↔ 0.05) → p = 0.0499958.
    const oneDf = sampleRatioMismatch([5098, 4902], [50, 50]);
    expect(oneDf.chiSquare).toBeCloseTo(3.8416, 10);
    expect(oneDf.pValue).toBeCloseTo(0.05, 4);
    expect(oneDf.flagged).toBe(false);
    // [3100, 2950, 2950] at equal weights: expected 3000; χ² = (100² + 50² + 50²)/3000 = 5 → p = e^(−2.5) = 0.0820850.
    const twoDf = sampleRatioMismatch([3100, 2950, 2950], [1, 1, 1]);
    expect(twoDf.chiSquare).toBeCloseTo(5, 10);
    expect(twoDf.pValue).toBeCloseTo(Math.exp(-2.5), 8);
  });

  it('uses the weights (percent) for the expected counts', () => {
    // Weights 20/30/50 of 1000: expected [200, 300, 500]; observed [220, 280, 500]:
    // χ² = 400/200 + 400/300 + 0 = 3.3333333 → df 2 → p = e^(−5/3) = 0.1888756.
    const srm = sampleRatioMismatch([220, 280, 500], [20, 30, 50]);
    expect(srm.chiSquare).toBeCloseTo(10 / 3, 10);
    expect(srm.pValue).toBeCloseTo(Math.exp(-5 / 3), 8);
    // The same counts judged against 50/30/20 are far off: flagged.
    expect(sampleRatioMismatch([220, 280, 500], [50, 30, 20]).flagged).toBe(true);
  });

  it('nothing observed yet: nulls, not flagged; bad input throws', () => {
    expect(sampleRatioMismatch([0, 0], [50, 50])).toEqual({ chiSquare: null, pValue: null, flagged: false });
    expect(() => sampleRatioMismatch([10, 10], [100])).toThrow(RangeError);
    expect(() => sampleRatioMismatch([10], [100])).toThrow(RangeError);
    expect(() => sampleRatioMismatch([10, 10], [100, 0])).toThrow(RangeError);
    expect(() => sampleRatioMismatch([10.5, 10], [50, 50])).toThrow(RangeError);
  });
});
