import type { History } from '../data/history.ts';
import { DAY_MS } from '../data/time.ts';

/** Per-member scalars fed to the member tower next to the pooled history. */
export const MEMBER_SCALARS = 3;
/** Pooled views of the history: long decay, short decay, the last workout. */
export const POOLS = 3;

const LONG_HALF_LIFE_DAYS = 30;
const SHORT_HALF_LIFE_DAYS = 3;
const LONG_DECAY = Math.LN2 / (LONG_HALF_LIFE_DAYS * DAY_MS);
const SHORT_DECAY = Math.LN2 / (SHORT_HALF_LIFE_DAYS * DAY_MS);

/**
 * The member tower's inputs for a batch of members, each at their own time: the last
 * `historyLength` workouts before it (most recent first), their pooling weights, and scalars.
 * Buffers are reused from batch to batch.
 */
export class MemberContextBatch {
  readonly historyIdx: Int32Array;
  readonly poolWeights: Float32Array;
  readonly scalars: Float32Array;
  size = 0;

  constructor(
    readonly capacity: number,
    readonly historyLength: number,
  ) {
    this.historyIdx = new Int32Array(capacity * historyLength);
    this.poolWeights = new Float32Array(capacity * POOLS * historyLength);
    this.scalars = new Float32Array(capacity * MEMBER_SCALARS);
  }

  clear(): void {
    this.size = 0;
  }

  /**
   * Adds member `m` as of time `at`, seeing their workouts `start … end - 1` (time order; the
   * caller passes `end` = the first workout at or after `at`). Returns the row.
   */
  add(history: History, m: number, end: number, at: number): number {
    const row = this.size++;
    const L = this.historyLength;
    const start = history.offsets[m]!;
    const from = Math.max(start, end - L);
    const idx = this.historyIdx;
    const w = this.poolWeights;
    const base = row * L;
    const wBase = row * POOLS * L;
    idx.fill(0, base, base + L);
    w.fill(0, wBase, wBase + POOLS * L);
    let longSum = 0;
    let shortSum = 0;
    for (let j = end - 1, slot = 0; j >= from; j--, slot++) {
      const age = Math.max(0, at - history.startedAt[j]!);
      const long = Math.exp(-age * LONG_DECAY);
      const short = Math.exp(-age * SHORT_DECAY);
      idx[base + slot] = history.classIdx[j]!;
      w[wBase + slot] = long;
      w[wBase + L + slot] = short;
      longSum += long;
      shortSum += short;
    }
    const n = end - start;
    if (end > from) {
      for (let slot = 0; slot < end - from; slot++) {
        w[wBase + slot]! /= longSum;
        // A member inactive for months has short weights near 0: keep them a distribution.
        w[wBase + L + slot] = shortSum > 1e-12 ? w[wBase + L + slot]! / shortSum : w[wBase + slot]!;
      }
      w[wBase + 2 * L] = 1;
    }
    const s = row * MEMBER_SCALARS;
    this.scalars[s] = Math.log1p(n) / 5;
    this.scalars[s + 1] = n > 0 ? 1 : 0;
    this.scalars[s + 2] = n > 0 ? Math.min(60, (at - history.startedAt[end - 1]!) / DAY_MS) / 30 : 0;
    return row;
  }
}

/** Index of the first of member `m`'s workouts at or after `at` (their workouts are in time order). */
export function firstAtOrAfter(history: History, m: number, at: number): number {
  let lo = history.offsets[m]!;
  let hi = history.offsets[m + 1]!;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (history.startedAt[mid]! < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
