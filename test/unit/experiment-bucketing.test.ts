/**
 * Bucketing against GrowthBook's published test vectors, and the stickiness the pipeline and
 * the picks API rely on (same member → same variant on every day and in every process).
 *
 * The vectors are copied verbatim from growthbook/growthbook, packages/sdk-js/test/cases.json
 * (specVersion 0.8.0) at commit 8f1db4456915a8e7b7faf23d5632ca7219d2f469 (the file last changed
 * in 05fe635c749bf7bac92cc5221cf523b69d572ada): the `hash`, `getBucketRange` and
 * `chooseVariation` sections, all of their cases. The SDK's own json.test.ts compares bucket
 * ranges after rounding, hence toBeCloseTo there.
 */
import { describe, expect, it } from 'vitest';
import { assignVariant, bucketRanges, chooseVariation, fnv1a32, growthbookHash } from '../../model/experiments/bucketing.ts';
import { sampleRatioMismatch } from '../../model/experiments/statistics.ts';
import { experimentStatus, toExperiment, variantOf, type Experiment } from '../../daily-picks/experiments/experiment.ts';
import type { ExperimentRow } from '../../core/db/schema/experiment.ts';

// [seed, value, version, expected]
const HASH_CASES: [string, string, number, number | null][] = [
  ['', 'a', 1, 0.22],
  ['', 'b', 1, 0.077],
  ['b', 'a', 1, 0.946],
  ['ef', 'd', 1, 0.652],
  ['asdf', '8952klfjas09ujk', 1, 0.549],
  ['', '123', 1, 0.011],
  ['', '___)((*":&', 1, 0.563],
  ['seed', 'a', 2, 0.0505],
  ['seed', 'b', 2, 0.2696],
  ['foo', 'ab', 2, 0.2575],
  ['foo', 'def', 2, 0.2019],
  ['89123klj', '8952klfjas09ujkasdf', 2, 0.124],
  ['90850943850283058242805', '123', 2, 0.7516],
  ['()**(%$##$%#$#', '___)((*":&', 2, 0.0128],
  ['abc', 'def', 99, null],
];

// [name, [numVariations, coverage, weights | null], expected ranges]
const BUCKET_RANGE_CASES: [string, [number, number, number[] | null], [number, number][]][] = [
  ['normal 50/50', [2, 1, null], [[0, 0.5], [0.5, 1]]],
  ['reduced coverage', [2, 0.5, null], [[0, 0.25], [0.5, 0.75]]],
  ['zero coverage', [2, 0, null], [[0, 0], [0.5, 0.5]]],
  ['4 variations', [4, 1, null], [[0, 0.25], [0.25, 0.5], [0.5, 0.75], [0.75, 1]]],
  ['uneven weights', [2, 1, [0.4, 0.6]], [[0, 0.4], [0.4, 1]]],
  ['uneven weights, 3 variations', [3, 1, [0.2, 0.3, 0.5]], [[0, 0.2], [0.2, 0.5], [0.5, 1]]],
  ['uneven weights, reduced coverage, 3 variations', [3, 0.2, [0.2, 0.3, 0.5]], [[0, 0.04], [0.2, 0.26], [0.5, 0.6]]],
  ['negative coverage', [2, -0.2, null], [[0, 0], [0.5, 0.5]]],
  ['coverage above 1', [2, 1.5, null], [[0, 0.5], [0.5, 1]]],
  ['weights sum below 1', [2, 1, [0.4, 0.1]], [[0, 0.5], [0.5, 1]]],
  ['weights sum above 1', [2, 1, [0.7, 0.6]], [[0, 0.5], [0.5, 1]]],
  ['weights.length not equal to num variations', [4, 1, [0.4, 0.4, 0.2]], [[0, 0.25], [0.25, 0.5], [0.5, 0.75], [0.75, 1]]],
  ['weights sum almost equals 1', [2, 1, [0.4, 0.5999]], [[0, 0.4], [0.4, 0.9999]]],
];

// [name, n, ranges, expected index]
const CHOOSE_VARIATION_CASES: [string, number, [number, number][], number][] = [
  ['even range, 0.2', 0.2, [[0, 0.5], [0.5, 1]], 0],
  ['even range, 0.4', 0.4, [[0, 0.5], [0.5, 1]], 0],
  ['even range, 0.6', 0.6, [[0, 0.5], [0.5, 1]], 1],
  ['even range, 0.8', 0.8, [[0, 0.5], [0.5, 1]], 1],
  ['even range, 0', 0, [[0, 0.5], [0.5, 1]], 0],
  ['even range, 0.5', 0.5, [[0, 0.5], [0.5, 1]], 1],
  ['reduced range, 0.2', 0.2, [[0, 0.25], [0.5, 0.75]], 0],
  ['reduced range, 0.4', 0.4, [[0, 0.25], [0.5, 0.75]], -1],
  ['reduced range, 0.6', 0.6, [[0, 0.25], [0.5, 0.75]], 1],
  ['reduced range, 0.8', 0.8, [[0, 0.25], [0.5, 0.75]], -1],
  ['reduced range, 0.25', 0.25, [[0, 0.25], [0.5, 0.75]], -1],
  ['reduced range, 0.5', 0.5, [[0, 0.25], [0.5, 0.75]], 1],
  ['zero range', 0.5, [[0, 0.5], [0.5, 0.5], [0.5, 1]], 2],
];

describe('GrowthBook vectors (cases.json)', () => {
  it.each(HASH_CASES)('hash(%j, %j, v%i) = %s', (seed, value, version, expected) => {
    expect(growthbookHash(seed, value, version)).toBe(expected);
  });

  it.each(BUCKET_RANGE_CASES)('getBucketRange: %s', (_name, [count, coverage, weights], expected) => {
    const ranges = bucketRanges(count, coverage, weights ?? undefined);
    expect(ranges).toHaveLength(expected.length);
    ranges.forEach(([start, end], i) => {
      expect(start).toBeCloseTo(expected[i]![0], 6);
      expect(end).toBeCloseTo(expected[i]![1], 6);
    });
  });

  it.each(CHOOSE_VARIATION_CASES)('chooseVariation: %s', (_name, n, ranges, expected) => {
    expect(chooseVariation(n, ranges)).toBe(expected);
  });

  it('fnv1a32 is the standard 32-bit FNV-1a (offset basis for "", published value for "a")', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
  });
});

describe('assignVariant', () => {
  it('uses the experiment key as the seed and the member id as the value (v2 vectors)', () => {
    // hash('foo', 'ab', 2) = 0.2575, hash('90850943850283058242805', '123', 2) = 0.7516,
    // hash('seed', 'a', 2) = 0.0505; weights in percent are normalised to [0.2, 0.3, 0.5].
    expect(assignVariant('foo', 'ab', [50, 50])).toBe(0);
    expect(assignVariant('90850943850283058242805', '123', [50, 50])).toBe(1);
    expect(assignVariant('foo', 'ab', [20, 30, 50])).toBe(1);
    expect(assignVariant('90850943850283058242805', '123', [20, 30, 50])).toBe(2);
    expect(assignVariant('seed', 'a', [20, 30, 50])).toBe(0);
    // 0.2575 is past a 25% first slice.
    expect(assignVariant('foo', 'ab', [25, 75])).toBe(1);
  });
});

const MEMBERS = Array.from({ length: 20_000 }, (_, i) => `member-${i}`);

function row(key: string, variants: { key: string; weight: number }[]): ExperimentRow {
  return {
    key,
    variants,
    rows: ['for_your_usual'],
    description: null,
    startAt: new Date('2026-03-01T00:00:00Z'),
    endAt: new Date('2026-03-15T00:00:00Z'),
    stoppedAt: null,
    stoppedBy: null,
    createdBy: 'test',
    createdAt: new Date('2026-02-28T00:00:00Z'),
  };
}

const THREE_WAY = [
  { key: 'heuristics', weight: 50 },
  { key: 'model', weight: 30 },
  { key: 'model_ignore_aware', weight: 20 },
];

function assignments(experiment: Experiment, members: readonly string[]): string[] {
  return members.map((id) => variantOf(experiment, id).key);
}

describe('stickiness and split', () => {
  it('gives a member the same variant on every day of the experiment, in any order of asking', () => {
    const first = assignments(toExperiment(row('rows-vs-model', THREE_WAY)), MEMBERS);
    // Each simulated day rebuilds the experiment from its stored row, as the daily run and the API do.
    for (let day = 1; day <= 14; day++) {
      const at = new Date(Date.UTC(2026, 2, day, 12));
      const experiment = toExperiment(row('rows-vs-model', THREE_WAY));
      expect(experimentStatus(experiment, at)).toBe('running');
      const reversed = assignments(experiment, [...MEMBERS].reverse()).reverse();
      expect(reversed).toEqual(first);
    }
  });

  it('splits 20,000 members close to the weights 50/30/20 (within 1.5 points, no SRM)', () => {
    const keys = assignments(toExperiment(row('rows-vs-model', THREE_WAY)), MEMBERS);
    const counts = THREE_WAY.map((v) => keys.filter((k) => k === v.key).length);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(MEMBERS.length);
    // σ of a 50% share of 20,000 is 0.35 points: 1.5 points is > 4σ, yet catches a skewed hash.
    THREE_WAY.forEach((v, i) => expect(Math.abs((100 * counts[i]!) / MEMBERS.length - v.weight)).toBeLessThan(1.5));
    expect(sampleRatioMismatch(counts, THREE_WAY.map((v) => v.weight)).flagged).toBe(false);
  });

  it('a 90/10 split stays close too (weights are not assumed equal)', () => {
    const experiment = toExperiment(row('ninety-ten', [{ key: 'heuristics', weight: 90 }, { key: 'model', weight: 10 }]));
    const treated = assignments(experiment, MEMBERS).filter((k) => k === 'model').length;
    expect(Math.abs(treated / MEMBERS.length - 0.1)).toBeLessThan(0.01);
  });

  it("another experiment's key does not move members in this one, and the two are independent", () => {
    const half = [{ key: 'heuristics', weight: 50 }, { key: 'model', weight: 50 }];
    const mine = toExperiment(row('exp-a', half));
    const before = assignments(mine, MEMBERS);
    const otherV1 = assignments(toExperiment(row('exp-b', half)), MEMBERS);
    const otherV2 = assignments(toExperiment(row('exp-b-renamed', half)), MEMBERS);
    expect(assignments(mine, MEMBERS)).toEqual(before);
    // The renamed experiment reshuffles its own members (the key is the seed) …
    const moved = otherV1.filter((k, i) => k !== otherV2[i]).length;
    expect(moved / MEMBERS.length).toBeGreaterThan(0.4);
    // … and each cell of exp-a × exp-b holds ≈ 25%: being in a's treatment says nothing of b's.
    for (const a of ['heuristics', 'model']) {
      for (const b of ['heuristics', 'model']) {
        const cell = before.filter((k, i) => k === a && otherV1[i] === b).length;
        expect(Math.abs(cell / MEMBERS.length - 0.25)).toBeLessThan(0.015);
      }
    }
  });
});
