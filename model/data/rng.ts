import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

// Seeded randomness shared by the trainer (negative sampling, shuffles) and the seed generator,
// so a run with the same seed draws the same numbers whichever side asks.


/** A small mutable random source over pure-rand's xoroshiro128+. */
export class Rng {
  private readonly gen: ReturnType<typeof xoroshiro128plus>;
  private spare: number | null = null;
  constructor(seed: number) {
    this.gen = xoroshiro128plus(seed | 0);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return (this.gen.next() >>> 0) / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Uniform in [a, b). */
  range(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** Standard normal (Box–Muller, caching the second value). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  /** Poisson (Knuth; fine for the small rates used here). */
  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k += 1;
      p *= this.next();
    }
    return k;
  }
  /** An index drawn with probability proportional to `weights`. */
  weighted(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i += 1) total += weights[i]!;
    let x = this.next() * total;
    for (let i = 0; i < weights.length; i += 1) {
      x -= weights[i]!;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** A 32-bit seed for stream `stream`, entity `index` of the run seeded with `seed` (murmur3 finaliser). */
export function streamSeed(seed: number, stream: number, index: number): number {
  let h = (seed ^ Math.imul(stream + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}
