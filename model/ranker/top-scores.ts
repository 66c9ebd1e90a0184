/** Class indices fit in the low 21 bits of a selection key (with 32 bits of value above: 53 in all). */
const INDEX_BITS = 2 ** 21;
export const MAX_CLASSES = INDEX_BITS - 1;
/** Values sampled per row to set the bar. */
const SAMPLE = 256;

/** Scores at or below this are masked classes (the scorer adds −1e9 to them). */
export const MASKED = -1e8;

/**
 * The `depth` best scores of a row (float32 logits), best first (ties to the lower index),
 * skipping masked ones.
 *
 * A bar is set from an evenly spaced sample of the row (a little below where the `depth`-th score
 * should fall), one pass keeps the classes above it, and only those are ordered. A float32's bit
 * pattern, with negatives flipped, orders like its value, so `sortable(bits) · 2^21 + (2^21 − 1 −
 * index)` is an exact float64 key sorting by score, then lower index. A streaming heap measured
 * ~30 µs per 2,000-class row here (rows arrive in air order, so its bar rises late); this is one
 * comparison per class plus ordering ~1.5 × depth keys.
 */
export class TopScores {
  private keys: Float64Array;
  // Float64Array like the keys: the selection helpers then see one array type (monomorphic in V8).
  private readonly sample = new Float64Array(SAMPLE);

  constructor(readonly depth: number) {
    this.keys = new Float64Array(Math.max(64, 4 * depth));
  }

  /**
   * Writes the best classes of `row` into `classIdx` / `values` (from `at`) and returns how many.
   * `bits` is the same memory as `row` viewed as Uint32Array.
   */
  select(row: Float32Array, bits: Uint32Array, classIdx: Int32Array, values: Float32Array, at: number): number {
    const { depth } = this;
    const n = row.length;
    if (n > MAX_CLASSES) throw new Error(`TopProbabilities: ${n} classes > ${MAX_CLASSES}`);
    if (depth === 0 || n === 0) return 0;
    let size = this.collect(row, bits, this.bar(row));
    if (size < depth) size = this.collect(row, bits, MASKED);
    const kept = this.keys;
    const count = Math.min(depth, size);
    // Only the best `count` need ordering: move them to the front, then sort those.
    if (size > count) selectLargest(kept, 0, size - 1, count);
    sortDescending(kept, 0, count - 1);
    for (let j = 0; j < count; j++) {
      const c = MAX_CLASSES - (kept[j]! % INDEX_BITS);
      classIdx[at + j] = c;
      values[at + j] = row[c]!;
    }
    return count;
  }

  /** A score about 1.5 × depth of the row's scores exceed (MASKED when that is most of the row). */
  private bar(row: Float32Array): number {
    const n = row.length;
    const rank = Math.ceil((1.5 * this.depth * SAMPLE) / n);
    if (rank >= SAMPLE / 2 || n < 4 * SAMPLE) return MASKED;
    const step = n / SAMPLE;
    const sample = this.sample;
    for (let i = 0; i < SAMPLE; i++) sample[i] = row[Math.floor(i * step)]!;
    selectLargest(sample, 0, SAMPLE - 1, rank + 1);
    let bar = sample[0]!;
    for (let i = 1; i <= rank; i++) if (sample[i]! < bar) bar = sample[i]!;
    return bar;
  }

  /** Keys of the classes scoring above `bar` (and not masked) into `keys`; returns how many. */
  private collect(row: Float32Array, bits: Uint32Array, bar: number): number {
    let keys = this.keys;
    let size = 0;
    const n = row.length;
    const floor = bar > MASKED ? bar : MASKED;
    for (let c = 0; c < n; c++) {
      if (row[c]! > floor) {
        if (size === keys.length) {
          const grown = new Float64Array(keys.length * 2);
          grown.set(keys);
          this.keys = keys = grown;
        }
        const u = bits[c]!;
        // IEEE order as unsigned: negatives have every bit flipped, positives the sign bit set.
        const sortable = u >= 0x80000000 ? 0xffffffff - u : u + 0x80000000;
        keys[size++] = sortable * INDEX_BITS + (MAX_CLASSES - c);
      }
    }
    return size;
  }
}

/** Where `partition` left its right cursor (its left one is returned). */
let rightCursor = 0;

/**
 * Hoare partition of `a[lo … hi]` around its middle value, larger values first: afterwards
 * `a[lo … rightCursor]` ≥ pivot ≥ `a[returned … hi]`.
 */
function partition(a: Float64Array, lo: number, hi: number): number {
  const pivot = a[(lo + hi) >>> 1]!;
  let i = lo;
  let j = hi;
  while (i <= j) {
    while (a[i]! > pivot) i++;
    while (a[j]! < pivot) j--;
    if (i <= j) {
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
      i++;
      j--;
    }
  }
  rightCursor = j;
  return i;
}

/**
 * Reorders `a[lo … hi]` so its `count` largest values come first (in no order): quickselect.
 * The typed arrays' own sort costs ~100 ns per element on short arrays here; these loops are JITted numeric compares.
 */
function selectLargest(a: Float64Array, lo: number, hi: number, count: number): void {
  const target = lo + count - 1;
  while (hi > lo) {
    const i = partition(a, lo, hi);
    const j = rightCursor;
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return;
  }
}

/** Sorts `a[lo … hi]` descending (quicksort, insertion sort for short runs). */
function sortDescending(a: Float64Array, lo: number, hi: number): void {
  while (hi - lo > 16) {
    const i = partition(a, lo, hi);
    const j = rightCursor;
    // Recurse into the shorter side, loop on the longer: bounded stack.
    if (j - lo < hi - i) {
      sortDescending(a, lo, j);
      lo = i;
    } else {
      sortDescending(a, i, hi);
      hi = j;
    }
  }
  for (let i = lo + 1; i <= hi; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= lo && a[j]! < v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}
