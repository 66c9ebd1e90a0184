/**
 * The statistics of an experiment report: lift of a treatment over the baseline for a
 * proportion (take-rate), a ratio metric randomised by member (conversions per impression) and
 * a per-member mean (the workouts-per-member guardrail), and the sample-ratio-mismatch check.
 * Pure functions, no I/O. Every interval is a 95% normal interval; every p-value is two-sided.
 * A quantity that is undefined for the input (no members, a baseline of 0, no spread) is null,
 * never NaN or Infinity, so a report serialises to JSON as is and a UI can print "n/a".
 */
import chisquareCdf from '@stdlib/stats-base-dists-chisquare-cdf';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';

/** Φ⁻¹(0.975): the half-width of a 95% normal interval in standard errors. */
const Z_95 = 1.959963984540054;

/** An SRM p-value under this is flagged: at 0.001 a fair split is flagged once in a thousand reports. */
const SRM_ALPHA = 0.001;

/** The relative lift of a treatment over the baseline (treatment/baseline − 1), its 95% CI and two-sided p-value. */
export interface LiftEstimate {
  relative: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  pValue: number | null;
}

/** Successes out of trials (for example exposed members who took a picked class, out of exposed members). */
export interface ProportionCounts {
  successes: number;
  trials: number;
}

/** A ratio metric Σx/Σy over the units (members) that were randomised, and the variance of that ratio. */
export interface RatioEstimate {
  value: number | null;
  variance: number | null;
  units: number;
}

/** The chi-square statistic of observed counts against the expected split, its p-value and whether it is flagged. */
export interface SampleRatioMismatch {
  chiSquare: number | null;
  pValue: number | null;
  flagged: boolean;
}

const NO_LIFT: LiftEstimate = { relative: null, ciLow: null, ciHigh: null, pValue: null };

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Two-sided p-value of a z statistic; Φ(−|z|) keeps precision in the tail where 1 − Φ(|z|) rounds to 0. */
function twoSidedP(z: number): number {
  return 2 * normalCdf(-Math.abs(z), 0, 1);
}

/**
 * Relative lift mT/mB − 1 with a 95% delta-method interval, from two independent estimates
 * and the variances of those estimates. The interval is taken on the log of the ratio,
 * Var(ln(mT/mB)) ≈ varT/mT² + varB/mB², and mapped back: a ratio's sampling distribution is
 * skewed, and on the linear scale a small sample's interval could cross zero while the test of
 * the difference rejects it (10/40 vs 20/40: p 0.02, linear interval [−24%, +224%], log
 * interval [+8%, +272%]). Large samples give the same interval either way. When mT = 0 the log
 * is undefined and the linear form, Var(mT/mB) ≈ varT/mB² + mT²·varB/mB⁴, stands in.
 */
function relativeInterval(meanB: number, varB: number, meanT: number, varT: number): Pick<LiftEstimate, 'relative' | 'ciLow' | 'ciHigh'> {
  if (meanB === 0 || !Number.isFinite(meanB) || !Number.isFinite(meanT)) return { relative: null, ciLow: null, ciHigh: null };
  const relative = meanT / meanB - 1;
  if (meanT > 0 && meanB > 0) {
    const half = Z_95 * Math.sqrt(varT / (meanT * meanT) + varB / (meanB * meanB));
    if (!Number.isFinite(half)) return { relative, ciLow: null, ciHigh: null };
    const log = Math.log(meanT / meanB);
    return { relative, ciLow: Math.exp(log - half) - 1, ciHigh: Math.exp(log + half) - 1 };
  }
  const variance = varT / (meanB * meanB) + (meanT * meanT * varB) / (meanB * meanB * meanB * meanB);
  const half = Z_95 * Math.sqrt(variance);
  if (!Number.isFinite(half)) return { relative: finiteOrNull(relative), ciLow: null, ciHigh: null };
  return { relative, ciLow: relative - half, ciHigh: relative + half };
}

/** p-value of the z test on mT − mB with the unpooled variance varT + varB; null when there is no spread. */
function differencePValue(meanB: number, varB: number, meanT: number, varT: number): number | null {
  const se = Math.sqrt(varB + varT);
  if (!(se > 0) || !Number.isFinite(se)) return null;
  return twoSidedP((meanT - meanB) / se);
}

function checkCounts(name: string, counts: ProportionCounts): void {
  const { successes, trials } = counts;
  if (!Number.isInteger(successes) || !Number.isInteger(trials) || successes < 0 || successes > trials) {
    throw new RangeError(`${name}: successes and trials must be integers with 0 ≤ successes ≤ trials (got ${successes}/${trials})`);
  }
}

/**
 * Lift of the treatment's proportion over the baseline's (take-rate: converted/exposed).
 * - relative = pT/pB − 1, with a 95% CI by the delta method, each p with variance p(1−p)/n;
 * - pValue from the pooled two-proportion z test, z = (pT − pB)/√(p̄(1−p̄)(1/nB + 1/nT)) with
 *   p̄ = (sB + sT)/(nB + nT): under H0 both arms share one rate, so pooling estimates it best.
 * Degenerate inputs give nulls: no trials in an arm → everything null; a baseline of 0 → no
 * relative lift or CI (the p-value stays, the difference is still testable); every trial with
 * the same outcome in both arms (p̄ = 0 or 1) → no p-value.
 * @throws RangeError when counts are not integers with 0 ≤ successes ≤ trials.
 */
export function twoProportionLift(baseline: ProportionCounts, treatment: ProportionCounts): LiftEstimate {
  checkCounts('twoProportionLift baseline', baseline);
  checkCounts('twoProportionLift treatment', treatment);
  const nB = baseline.trials;
  const nT = treatment.trials;
  if (nB === 0 || nT === 0) return { ...NO_LIFT };
  const pB = baseline.successes / nB;
  const pT = treatment.successes / nT;
  const pooled = (baseline.successes + treatment.successes) / (nB + nT);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / nB + 1 / nT));
  const pValue = se > 0 ? twoSidedP((pT - pB) / se) : null;
  return { ...relativeInterval(pB, (pB * (1 - pB)) / nB, pT, (pT * (1 - pT)) / nT), pValue };
}

function checkSample(name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new RangeError(`${name}: value ${i} is not a finite number (${values[i]})`);
  }
}

/**
 * A ratio metric randomised by member, e.g. conversions per impression: member i contributes
 * xᵢ (conversions) and yᵢ (impressions). The members, not the impressions, are the independent
 * units, so the variance comes from the delta method over members:
 *   value R = Σx/Σy,  variance = (1/n)(1/ȳ²)(s²x − 2R·sxy + R²·s²y),
 * with sample (co)variances over n − 1. Treating impressions as independent Bernoulli trials
 * instead would understate the variance whenever members differ.
 * value is null when Σy = 0; variance is null then or with fewer than 2 members.
 * @throws RangeError when the arrays differ in length or hold a non-finite value.
 */
export function ratioMetric(numerators: ArrayLike<number>, denominators: ArrayLike<number>): RatioEstimate {
  const n = numerators.length;
  if (denominators.length !== n) throw new RangeError(`ratioMetric: ${n} numerators but ${denominators.length} denominators`);
  checkSample('ratioMetric numerators', numerators);
  checkSample('ratioMetric denominators', denominators);
  let sumX = 0;
  let sumY = 0;
  for (let i = 0; i < n; i++) {
    sumX += numerators[i]!;
    sumY += denominators[i]!;
  }
  if (n === 0 || sumY === 0) return { value: null, variance: null, units: n };
  const value = sumX / sumY;
  if (n < 2) return { value, variance: null, units: n };
  // Two passes (means first, then centred products) avoid the cancellation of Σx² − n·x̄².
  const meanX = sumX / n;
  const meanY = sumY / n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = numerators[i]! - meanX;
    const dy = denominators[i]! - meanY;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  const varX = sxx / (n - 1);
  const varY = syy / (n - 1);
  const covXY = sxy / (n - 1);
  // Rounding can leave a tiny negative where the true value is 0 (x proportional to y).
  const variance = Math.max(0, (varX - 2 * value * covXY + value * value * varY) / (n * meanY * meanY));
  return { value, variance, units: n };
}

/**
 * Lift of a treatment's ratio metric over the baseline's (both from `ratioMetric`): relative
 * RT/RB − 1 with a 95% delta-method CI; the p-value from the z test on RT − RB with variance
 * Var(RT) + Var(RB) (the arms hold different members, so they are independent).
 * Nulls when an arm has no value or variance, or the baseline is 0 (no relative lift).
 */
export function ratioLift(baseline: RatioEstimate, treatment: RatioEstimate): LiftEstimate {
  const { value: rB, variance: vB } = baseline;
  const { value: rT, variance: vT } = treatment;
  if (rB === null || rT === null || vB === null || vT === null) return { ...NO_LIFT };
  return { ...relativeInterval(rB, vB, rT, vT), pValue: differencePValue(rB, vB, rT, vT) };
}

/** Mean and the variance of the mean (s²/n, sample variance over n − 1); null below 2 values. */
function meanAndVariance(values: ArrayLike<number>): { mean: number; variance: number } | null {
  const n = values.length;
  if (n < 2) return null;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i]! - mean) ** 2;
  return { mean, variance: ss / (n - 1) / n };
}

/**
 * Lift of a per-member mean (the guardrail: workouts per exposed member since exposure), by
 * Welch's unequal-variance test: se² = s²T/nT + s²B/nB. The statistic is referred to the
 * normal distribution rather than Student's t with Welch–Satterthwaite degrees of freedom:
 * experiment arms hold hundreds of members or more, where the two differ in the third decimal
 * of the p-value; with a handful of members per arm this p-value is somewhat too small.
 * relative = mT/mB − 1 with a 95% delta-method CI. Nulls with fewer than 2 members in an arm,
 * a baseline mean of 0 (relative, CI) or no spread at all (p-value).
 * @throws RangeError when a value is not finite.
 */
export function meanLift(baseline: ArrayLike<number>, treatment: ArrayLike<number>): LiftEstimate {
  checkSample('meanLift baseline', baseline);
  checkSample('meanLift treatment', treatment);
  const b = meanAndVariance(baseline);
  const t = meanAndVariance(treatment);
  if (!b || !t) return { ...NO_LIFT };
  return { ...relativeInterval(b.mean, b.variance, t.mean, t.variance), pValue: differencePValue(b.mean, b.variance, t.mean, t.variance) };
}

/**
 * Sample-ratio-mismatch check: were members split as the weights say? Pearson's chi-square of
 * the observed counts (exposed members per variant) against N·wᵢ/Σw, with k − 1 degrees of
 * freedom. A mismatch means assignment or logging is broken (e.g. one variant's exposures get
 * lost), which biases every lift, so it is flagged at p < 0.001 (rare by chance even when many
 * reports are looked at). Weights may be in any unit (percent here).
 * No counts at all → chiSquare and pValue null, not flagged (nothing to check yet).
 * @throws RangeError when lengths differ, fewer than 2 variants, a weight is not positive or a count is not a non-negative integer.
 */
export function sampleRatioMismatch(observed: readonly number[], weights: readonly number[]): SampleRatioMismatch {
  const k = observed.length;
  if (weights.length !== k) throw new RangeError(`sampleRatioMismatch: ${k} counts but ${weights.length} weights`);
  if (k < 2) throw new RangeError('sampleRatioMismatch: needs at least 2 variants');
  for (let i = 0; i < k; i++) {
    if (!(weights[i]! > 0) || !Number.isFinite(weights[i]!)) throw new RangeError(`sampleRatioMismatch: weight ${i} must be positive (got ${weights[i]})`);
    if (!Number.isInteger(observed[i]!) || observed[i]! < 0) throw new RangeError(`sampleRatioMismatch: count ${i} must be a non-negative integer (got ${observed[i]})`);
  }
  const total = observed.reduce((sum, x) => sum + x, 0);
  if (total === 0) return { chiSquare: null, pValue: null, flagged: false };
  const weightSum = weights.reduce((sum, x) => sum + x, 0);
  let chiSquare = 0;
  for (let i = 0; i < k; i++) {
    const expected = (total * weights[i]!) / weightSum;
    chiSquare += (observed[i]! - expected) ** 2 / expected;
  }
  // Clamp: 1 − cdf may round a hair below 0 far in the tail.
  const pValue = Math.min(1, Math.max(0, 1 - chisquareCdf(chiSquare, k - 1)));
  return { chiSquare, pValue, flagged: pValue < SRM_ALPHA };
}
