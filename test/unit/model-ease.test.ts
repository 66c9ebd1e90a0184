/**
 * EASE: the closed form against a hand-computed 3-item case and an independent Gauss–Jordan
 * inverse, the zero diagonal, the maxItems restriction, weights, and save/load.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ease, easeWeights } from '../../model/baselines/ease.ts';
import { Rng } from '../../model/data/rng.ts';
import { historyOf } from '../support/history.ts';

/**
 * Four members, three classes (m3 takes class 0 twice: X is binary, so it counts once).
 *   m0: 0 1     m1: 0 1 2     m2: 1 2     m3: 0 0
 * XᵀX = [[3,2,1],[2,3,2],[1,2,2]], so with λ = 1, G = [[4,2,1],[2,4,2],[1,2,3]], det G = 24 and
 * P = G⁻¹ = [[8,−4,0],[−4,11,−6],[0,−6,12]] / 24. B_ij = −P_ij / P_jj:
 *   B = [[0, 4/11, 0], [1/2, 0, 1/2], [0, 6/11, 0]].
 */
const tiny = historyOf([
  [
    [0, 1],
    [1, 2],
  ],
  [
    [0, 1],
    [1, 2],
    [2, 3],
  ],
  [
    [1, 1],
    [2, 2],
  ],
  [
    [0, 1],
    [0, 2],
  ],
]);
const HAND_B = [0, 4 / 11, 0, 1 / 2, 0, 1 / 2, 0, 6 / 11, 0];

/** The inverse of a 3 × 3 matrix by its adjugate: independent of the Cholesky route. */
function inverse3(g: number[]): number[] {
  const [a, b, c, d, e, f, h, i, j] = g as [number, number, number, number, number, number, number, number, number];
  const adj = [e * j - f * i, -(b * j - c * i), b * f - c * e, -(d * j - f * h), a * j - c * h, -(a * f - c * d), d * i - e * h, -(a * i - b * h), a * e - b * d];
  const det = a * adj[0]! + b * adj[3]! + c * adj[6]!;
  return adj.map((x) => x / det);
}

/** B from a full symmetric G + λI by Gauss–Jordan with partial pivoting. */
function denseEase(gram: Float64Array, n: number, lambda: number): Float64Array {
  const a = Float64Array.from(gram);
  for (let i = 0; i < n; i++) a[i * n + i]! += lambda;
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]!) > Math.abs(a[pivot * n + c]!)) pivot = r;
    for (let k = 0; k < n; k++) {
      [a[c * n + k], a[pivot * n + k]] = [a[pivot * n + k]!, a[c * n + k]!];
      [inv[c * n + k], inv[pivot * n + k]] = [inv[pivot * n + k]!, inv[c * n + k]!];
    }
    const p = a[c * n + c]!;
    for (let k = 0; k < n; k++) {
      a[c * n + k]! /= p;
      inv[c * n + k]! /= p;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * n + c]!;
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        a[r * n + k]! -= f * a[c * n + k]!;
        inv[r * n + k]! -= f * inv[c * n + k]!;
      }
    }
  }
  const B = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) B[i * n + j] = i === j ? 0 : -inv[i * n + j]! / inv[j * n + j]!;
  return B;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThan(tolerance);
}

describe('easeWeights', () => {
  it('matches the hand-computed 3 × 3 case and an adjugate inverse to 1e-9', () => {
    const xtx = [3, 2, 1, 2, 3, 2, 1, 2, 2];
    const g = xtx.map((x, k) => x + (k % 4 === 0 ? 1 : 0));
    const p = inverse3(g);
    expectClose(p, [8, -4, 0, -4, 11, -6, 0, -6, 12].map((x) => x / 24), 1e-12);
    const fromAdjugate = p.map((x, k) => (k % 4 === 0 ? 0 : -x / p[(k % 3) * 4]!));
    expectClose(fromAdjugate, HAND_B, 1e-12);
    // Only the lower triangle is read: garbage above the diagonal must not matter.
    const lower = Float64Array.from(xtx, (x, k) => (k % 3 > Math.floor(k / 3) ? 99 : x));
    const B = easeWeights(lower, 3, 1, new Float64Array(9));
    expectClose(B, HAND_B, 1e-9);
  });

  it('matches a Gauss–Jordan inverse on random data across block edges', () => {
    const rng = new Rng(5);
    for (const n of [1, 2, 7, 33, 70]) {
      const gram = new Float64Array(n * n);
      for (let m = 0; m < 300; m++) {
        const items = [...new Set(Array.from({ length: 1 + rng.int(15) }, () => Math.floor(n * rng.next() ** 2)))];
        for (const a of items) for (const b of items) gram[a * n + b]! += 1;
      }
      const expected = denseEase(gram, n, 2.5);
      const B = easeWeights(Float64Array.from(gram), n, 2.5, new Float64Array(n * n));
      expectClose(B, expected, 1e-9);
      for (let j = 0; j < n; j++) expect(B[j * n + j]).toBe(0);
      // The default output is float32 of the same numbers.
      expectClose(easeWeights(Float64Array.from(gram), n, 2.5), expected, 1e-6);
    }
  });

  it('rejects a matrix that is not positive definite', () => {
    expect(() => easeWeights(new Float64Array([0, 0, 0, 0]), 2, 0)).toThrow(/positive definite/);
    expect(() => easeWeights(new Float64Array(3), 2, 1)).toThrow(/3 entries for 2 × 2/);
  });
});

describe('Ease', () => {
  it('fits the hand-computed case from a history (repeats count once)', () => {
    const ease = Ease.fit(tiny, 3, { lambda: 1 });
    expect(Array.from(ease.items)).toEqual([0, 1, 2]);
    expect(ease.lambda).toBe(1);
    // float32 storage: within its rounding of the exact values.
    expectClose(ease.weights, HAND_B, 1e-7);
    const out = new Float64Array(3);
    ease.score([0], null, out);
    expectClose(out, [0, 4 / 11, 0], 1e-7);
    ease.score([1, 2], null, out);
    expectClose(out, [1 / 2, 6 / 11, 1 / 2], 1e-7);
  });

  it('has a zero diagonal, so a class never recommends itself', () => {
    const rng = new Rng(3);
    const C = 50;
    const history = historyOf(Array.from({ length: 200 }, () => Array.from({ length: 2 + rng.int(10) }, (_, t): [number, number] => [Math.floor(C * rng.next() ** 1.5), t])));
    const ease = Ease.fit(history, C, { lambda: 5 });
    const n = ease.items.length;
    for (let j = 0; j < n; j++) expect(ease.weights[j * n + j]).toBe(0);
    const out = new Float64Array(C);
    ease.score([ease.items[0]!], null, out);
    expect(out[ease.items[0]!]).toBe(0);
  });

  it('weights scale each history row; a repeated class takes its largest weight', () => {
    const ease = Ease.fit(tiny, 3, { lambda: 1 });
    const out = new Float64Array(3);
    ease.score([1, 2], [1, 0.5], out);
    // row 1 + 0.5 · row 2 = [1/2, 0, 1/2] + [0, 3/11, 0]
    expectClose(out, [1 / 2, 3 / 11, 1 / 2], 1e-7);
    ease.score([1, 2, 1], [0.2, 0.5, 0.7], out);
    expectClose(out, [0.7 / 2, 3 / 11, 0.7 / 2], 1e-7);
    // Weight 0 drops a class; an empty history scores 0 everywhere.
    ease.score([1, 2], [0, 1], out);
    expectClose(out, [0, 6 / 11, 0], 1e-7);
    ease.score([], null, out);
    expect(Array.from(out)).toEqual([0, 0, 0]);
    // Scoring again leaves no state behind.
    ease.score([1, 2], null, out);
    expectClose(out, [1 / 2, 6 / 11, 1 / 2], 1e-7);
    expect(() => ease.score([1, 2], [1], out)).toThrow(/1 weights for 2 classes/);
    expect(() => ease.score([1], [-1], out)).toThrow(/not a finite non-negative/);
    expect(() => ease.score([1], null, new Float64Array(4))).toThrow(/catalogue of 3/);
  });

  it('keeps only the maxItems most-taken classes; the rest score below every covered class', () => {
    // Distinct members per class: 0 → 1, 1 → 4, 2 → 2, 3 → 3, 4 → 0 (never taken), 5 → 3.
    const history = historyOf([
      [
        [1, 1],
        [3, 2],
        [5, 3],
        [2, 4],
      ],
      [
        [1, 1],
        [3, 2],
        [5, 3],
        [1, 4],
      ],
      [
        [1, 1],
        [3, 2],
        [0, 3],
      ],
      [
        [1, 1],
        [2, 2],
        [5, 3],
      ],
    ]);
    const C = 6;
    const ease = Ease.fit(history, C, { lambda: 1, maxItems: 3 });
    // 1 (4 members), then 3 and 5 tie at 3: both fit. Ascending order.
    expect(Array.from(ease.items)).toEqual([1, 3, 5]);
    expect(ease.weights.length).toBe(9);
    const out = new Float64Array(C);
    // Class 2 and class 0 are not covered: they add nothing.
    ease.score([2, 0, 3], null, out);
    const alone = new Float64Array(C);
    ease.score([3], null, alone);
    expect(Array.from(out)).toEqual(Array.from(alone));
    const covered = [1, 3, 5].map((c) => out[c]!);
    for (const c of [0, 2, 4]) {
      expect(Number.isFinite(out[c]!)).toBe(true);
      expect(out[c]!).toBeLessThan(Math.min(...covered));
    }
    // Ties at the cut go to the lower class index; classes nobody took never enter.
    expect(Array.from(Ease.fit(history, C, { lambda: 1, maxItems: 2 }).items)).toEqual([1, 3]);
    expect(Array.from(Ease.fit(history, C, { lambda: 1, maxItems: 100 }).items)).toEqual([0, 1, 2, 3, 5]);
    expect(Ease.fit(history, C, { lambda: 1, maxItems: 0 }).items.length).toBe(0);
    expect(() => Ease.fit(history, 4, { lambda: 1 })).toThrow(/outside a catalogue of 4/);
    expect(() => Ease.fit(history, C, { lambda: 0 })).toThrow(/lambda must be > 0/);
  });

  it('defaults λ to lambdaPerClass × the mean distinct covered classes per member', () => {
    // Distinct classes: m0 2, m1 3, m2 2, m3 1 → mean 2.
    expect(Ease.fit(tiny, 3).lambda).toBe(10);
    expect(Ease.fit(tiny, 3, { lambdaPerClass: 1.5 }).lambda).toBe(3);
    // Only covered classes count: class 0 alone (3 members, tied with class 1, the lower index
    // wins) leaves m0, m1, m3 one class each and m2 none.
    expect(Ease.fit(tiny, 3, { maxItems: 1 }).lambda).toBe(5);
    expect(Ease.fit(tiny, 3, { lambda: 7, lambdaPerClass: 100 }).lambda).toBe(7);
    expect(() => Ease.fit(tiny, 3, { lambdaPerClass: 0 })).toThrow(/lambdaPerClass must be > 0/);
    const rng = new Rng(9);
    const big = historyOf([Array.from({ length: 20 }, (_, t): [number, number] => [rng.int(5000), t])]);
    expect(Ease.fit(big, 5000).items.length).toBeLessThanOrEqual(20);
  });

  describe('save and load', () => {
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'ease-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('round-trips to identical scores', async () => {
      const rng = new Rng(21);
      const C = 40;
      const history = historyOf(Array.from({ length: 120 }, () => Array.from({ length: 2 + rng.int(8) }, (_, t): [number, number] => [rng.int(C), t])));
      const ease = Ease.fit(history, C, { lambda: 3, maxItems: 30 });
      const file = path.join(dir, 'ease.bin');
      await ease.save(file);
      await ease.save(file); // overwrites in place
      expect(await readdir(dir)).toEqual(['ease.bin']);
      const loaded = await Ease.load(file);
      expect(loaded.catalogueSize).toBe(C);
      expect(loaded.lambda).toBe(3);
      expect(Array.from(loaded.items)).toEqual(Array.from(ease.items));
      expect(Array.from(loaded.weights)).toEqual(Array.from(ease.weights));
      const a = new Float64Array(C);
      const b = new Float64Array(C);
      for (let m = 0; m < 10; m++) {
        const { start, end } = history.workoutsOf(m);
        const classes = history.classIdx.subarray(start, end);
        const weights = Float64Array.from(classes, (_, i) => 0.5 ** (classes.length - 1 - i));
        ease.score(classes, weights, a);
        loaded.score(classes, weights, b);
        expect(Array.from(b)).toEqual(Array.from(a));
      }
    });

    it('rejects files that are not a whole model', async () => {
      const file = path.join(dir, 'tiny.bin');
      await Ease.fit(tiny, 3, { lambda: 1 }).save(file);
      const bytes = await readFile(file);
      await writeFile(path.join(dir, 'cut.bin'), bytes.subarray(0, bytes.length - 4));
      await expect(Ease.load(path.join(dir, 'cut.bin'))).rejects.toThrow(/weight bytes for 3 items/);
      await writeFile(path.join(dir, 'other.bin'), 'hello world');
      await expect(Ease.load(path.join(dir, 'other.bin'))).rejects.toThrow(/not an EASE model/);
    });
  });
});
