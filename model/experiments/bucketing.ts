/**
 * GrowthBook's deterministic bucketing (hash version 2, FNV-1a 32-bit), so an assignment made
 * here is the one a GrowthBook SDK makes for the same experiment key (its seed), member id and
 * weights: the pipeline, the picks API and any client agree without a table of assignments.
 * Follows the SDK's util.ts (`hash`, `getBucketRanges`, `chooseVariation`); tested against the
 * vectors GrowthBook publishes with it (cases.json).
 */

/** FNV-1a, 32 bits, over UTF-16 code units (as the SDK computes it). */
export function fnv1a32(value: string): number {
  let hval = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hval ^= value.charCodeAt(i);
    hval += (hval << 1) + (hval << 4) + (hval << 7) + (hval << 8) + (hval << 24);
  }
  return hval >>> 0;
}

/**
 * GrowthBook's `hash(seed, value, version)`: a number in [0, 1), or null for an unknown version.
 * v2 hashes twice (`fnv1a32(String(fnv1a32(seed + value)))`) for a better spread than v1.
 */
export function growthbookHash(seed: string, value: string, version: number): number | null {
  if (version === 2) return (fnv1a32(String(fnv1a32(seed + value))) % 10000) / 10000;
  if (version === 1) return (fnv1a32(value + seed) % 1000) / 1000;
  return null;
}

/**
 * GrowthBook's `getBucketRanges`: each variation's [start, end) slice of [0, 1), `coverage`
 * of it in all. Weights that do not sum to 1 (±0.01) fall back to equal weights, as in the SDK.
 */
export function bucketRanges(numVariations: number, coverage = 1, weights?: readonly number[]): [number, number][] {
  const share = coverage < 0 ? 0 : coverage > 1 ? 1 : coverage;
  const equal = Array<number>(numVariations).fill(1 / numVariations);
  let w = weights ?? equal;
  if (w.length !== numVariations) w = equal;
  const total = w.reduce((sum, x) => sum + x, 0);
  if (total < 0.99 || total > 1.01) w = equal;
  let cumulative = 0;
  return w.map((x) => {
    const start = cumulative;
    cumulative += x;
    return [start, start + share * x];
  });
}

/** GrowthBook's `chooseVariation`: the index of the range holding `n`, or -1 (not in the experiment). */
export function chooseVariation(n: number, ranges: readonly (readonly [number, number])[]): number {
  for (let i = 0; i < ranges.length; i++) {
    if (n >= ranges[i]![0] && n < ranges[i]![1]) return i;
  }
  return -1;
}

/**
 * The variant index of `memberId` in experiment `experimentKey` (hash v2, seed = the key, full
 * coverage), given the variants' weights in any unit (percent here): always the same index for
 * the same key, member and weights, whatever day or process asks.
 */
export function assignVariant(experimentKey: string, memberId: string, weights: readonly number[]): number {
  const total = weights.reduce((sum, x) => sum + x, 0);
  const ranges = bucketRanges(weights.length, 1, weights.map((x) => x / total));
  return chooseVariation(growthbookHash(experimentKey, memberId, 2)!, ranges);
}
