/**
 * ItemKNN, the non-neural baseline a learned ranker has to beat (Sarwar et al. 2001; Dacrema et
 * al. 2019 found a tuned one beats many neural recommenders): item-item cosine similarity on
 * the binary member × class matrix, with shrinkage, keeping each class's top neighbours.
 * A member's scores are the weighted sum of the neighbour rows of the classes they took.
 */
import type { History } from '../data/history.ts';
import { DAY_MS } from '../data/time.ts';

export interface ItemKnnOptions {
  /**
   * Most similar classes kept per class.
   * @defaultValue 100
   */
  neighbours?: number;
  /**
   * Added to the cosine denominator, so pairs seen together by only a few members count less
   * than their raw cosine says.
   * @defaultValue 10
   */
  shrink?: number;
  /**
   * Epoch ms: only workouts strictly before this time are used (the training part of a
   * holdout split).
   * @defaultValue every workout in the history
   */
  before?: number;
}

/**
 * The fitted neighbour lists as compressed sparse rows: class `a`'s neighbours are
 * `neighbours[offsets[a]] … neighbours[offsets[a + 1] - 1]`, most similar first (ties to the
 * lower class index), with `similarities` alongside.
 */
export class ItemKnn {
  private constructor(
    readonly catalogueSize: number,
    readonly offsets: Int32Array,
    readonly neighbours: Int32Array,
    readonly similarities: Float32Array,
    /** Distinct members who took each class in the fitted period. */
    readonly itemCounts: Int32Array,
  ) {}

  /**
   * Fits on `history` (classes must be indices below `catalogueSize`). Each member counts once
   * per class however often they took it. Works row by row — an inverted index (class →
   * members) and one dense accumulator row — so memory is O(workouts + classes × neighbours)
   * and time O(Σ_members distinct², plus a log(neighbours) heap step per co-occurring pair).
   * sim(a, b) = co(a, b) / (√n_a·√n_b + shrink).
   */
  static fit(history: History, catalogueSize: number, options: ItemKnnOptions = {}): ItemKnn {
    const k = options.neighbours ?? 100;
    const shrink = options.shrink ?? 10;
    const before = options.before ?? Number.POSITIVE_INFINITY;
    if (!Number.isInteger(catalogueSize) || catalogueSize < 0) throw new Error(`ItemKnn: catalogueSize must be a non-negative integer, got ${catalogueSize}`);
    if (!Number.isInteger(k) || k < 0) throw new Error(`ItemKnn: neighbours must be a non-negative integer, got ${k}`);
    if (!(shrink >= 0)) throw new Error(`ItemKnn: shrink must be ≥ 0, got ${shrink}`);
    const C = catalogueSize;
    const members = history.memberCount;

    // Each member's distinct classes before the cut, as CSR.
    const memberOffsets = new Int32Array(members + 1);
    let memberItems = new Int32Array(Math.max(16, Math.min(history.workoutCount, 1 << 20)));
    const lastMember = new Int32Array(C).fill(-1);
    const itemCounts = new Int32Array(C);
    let pairs = 0;
    for (let m = 0; m < members; m++) {
      const { start, end } = history.workoutsOf(m);
      for (let w = start; w < end; w++) {
        if (!(history.startedAt[w]! < before)) continue;
        const c = history.classIdx[w]!;
        if (c < 0 || c >= C) throw new Error(`ItemKnn: class index ${c} outside a catalogue of ${C}`);
        if (lastMember[c] === m) continue;
        lastMember[c] = m;
        if (pairs === memberItems.length) memberItems = growInt(memberItems, pairs * 2);
        memberItems[pairs++] = c;
        itemCounts[c]! += 1;
      }
      memberOffsets[m + 1] = pairs;
    }

    // Inverted index: class → members who took it.
    const itemOffsets = new Int32Array(C + 1);
    for (let c = 0; c < C; c++) itemOffsets[c + 1] = itemOffsets[c]! + itemCounts[c]!;
    const itemMembers = new Int32Array(pairs);
    const cursor = itemOffsets.slice(0, C);
    for (let m = 0; m < members; m++) {
      for (let i = memberOffsets[m]!; i < memberOffsets[m + 1]!; i++) itemMembers[cursor[memberItems[i]!]!++] = m;
    }

    const norm = Float64Array.from(itemCounts, Math.sqrt);
    const co = new Int32Array(C);
    const touched = new Int32Array(C);
    const heap = new NeighbourHeap(k);
    const offsets = new Int32Array(C + 1);
    let neighbours = new Int32Array(Math.max(16, Math.min(C * k, 1 << 20)));
    let similarities = new Float32Array(neighbours.length);
    let stored = 0;
    for (let a = 0; a < C; a++) {
      let touchedCount = 0;
      for (let i = itemOffsets[a]!; i < itemOffsets[a + 1]!; i++) {
        const m = itemMembers[i]!;
        for (let j = memberOffsets[m]!; j < memberOffsets[m + 1]!; j++) {
          const b = memberItems[j]!;
          if (b === a) continue;
          if (co[b] === 0) touched[touchedCount++] = b;
          co[b]! += 1;
        }
      }
      heap.clear();
      for (let t = 0; t < touchedCount; t++) {
        const b = touched[t]!;
        heap.offer(b, co[b]! / (norm[a]! * norm[b]! + shrink));
        co[b] = 0;
      }
      if (stored + heap.size > neighbours.length) {
        const size = Math.max(neighbours.length * 2, stored + heap.size);
        neighbours = growInt(neighbours, size);
        const grown = new Float32Array(size);
        grown.set(similarities);
        similarities = grown;
      }
      stored += heap.drainInto(neighbours, similarities, stored);
      offsets[a + 1] = stored;
    }
    return new ItemKnn(C, offsets, neighbours.slice(0, stored), similarities.slice(0, stored), itemCounts);
  }

  /** Class `a`'s neighbour row (views, most similar first). */
  neighboursOf(a: number): { classes: Int32Array; similarities: Float32Array } {
    const start = this.offsets[a]!;
    const end = this.offsets[a + 1]!;
    return { classes: this.neighbours.subarray(start, end), similarities: this.similarities.subarray(start, end) };
  }

  /** sim(a, b) as stored in `a`'s row: 0 when b is not among a's top neighbours. */
  similarity(a: number, b: number): number {
    for (let i = this.offsets[a]!; i < this.offsets[a + 1]!; i++) if (this.neighbours[i] === b) return this.similarities[i]!;
    return 0;
  }

  /**
   * out[c] = Σ_h weight_h · sim(h, c) over the member's history classes (a class taken several
   * times adds several times; pass distinct classes for the plain ItemKNN score). `weights`
   * null means every weight is 1. `out` is zero-filled first; masking classes already taken or
   * not yet aired, and picking the top k, is the caller's.
   */
  score(historyClasses: ArrayLike<number>, weights: ArrayLike<number> | null, out: Float64Array): Float64Array {
    if (out.length !== this.catalogueSize) throw new Error(`ItemKnn.score: out has ${out.length} entries for a catalogue of ${this.catalogueSize}`);
    if (weights !== null && weights.length < historyClasses.length) throw new Error(`ItemKnn.score: ${weights.length} weights for ${historyClasses.length} classes`);
    out.fill(0);
    for (let i = 0; i < historyClasses.length; i++) {
      const h = historyClasses[i]!;
      if (h < 0 || h >= this.catalogueSize) continue;
      const w = weights === null ? 1 : weights[i]!;
      if (w === 0) continue;
      for (let j = this.offsets[h]!; j < this.offsets[h + 1]!; j++) out[this.neighbours[j]!]! += w * this.similarities[j]!;
    }
    return out;
  }
}

/**
 * Exponential recency weights for a member's workouts `from … to - 1` (a slice of
 * `History.startedAt`, epoch ms): a workout `halfLifeDays` before `asOf` weighs 0.5, twice that
 * 0.25, one at or after `asOf` weighs 1 (ages clamp at 0, so a clock skew never boosts a class).
 * Tastes drift, so last week's classes say more about tomorrow than last season's.
 * @param out written from index 0 when given (length ≥ to − from); a new array otherwise
 * @returns the weights, `to − from` of them (a view of `out` when given)
 */
export function recencyWeights(startedAt: ArrayLike<number>, from: number, to: number, asOf: number, halfLifeDays = 30, out?: Float64Array): Float64Array {
  const n = Math.max(0, to - from);
  if (!(halfLifeDays > 0)) throw new Error(`recencyWeights: halfLifeDays must be > 0, got ${halfLifeDays}`);
  if (out !== undefined && out.length < n) throw new Error(`recencyWeights: out has ${out.length} entries for ${n} workouts`);
  const weights = out === undefined ? new Float64Array(n) : out.subarray(0, n);
  const rate = Math.LN2 / (halfLifeDays * DAY_MS);
  for (let i = 0; i < n; i++) weights[i] = Math.exp(-rate * Math.max(0, asOf - startedAt[from + i]!));
  return weights;
}

/** A bounded min-heap of (class, similarity): the worst kept neighbour at the root. */
class NeighbourHeap {
  private readonly ids: Int32Array;
  private readonly sims: Float64Array;
  size = 0;

  constructor(private readonly capacity: number) {
    this.ids = new Int32Array(capacity);
    this.sims = new Float64Array(capacity);
  }

  clear(): void {
    this.size = 0;
  }

  offer(id: number, sim: number): void {
    if (this.capacity === 0) return;
    if (this.size < this.capacity) {
      let i = this.size++;
      // Sift up.
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(id, sim, this.ids[parent]!, this.sims[parent]!)) break;
        this.ids[i] = this.ids[parent]!;
        this.sims[i] = this.sims[parent]!;
        i = parent;
      }
      this.ids[i] = id;
      this.sims[i] = sim;
    } else if (this.worse(this.ids[0]!, this.sims[0]!, id, sim)) {
      this.siftDown(id, sim);
    }
  }

  /** Writes the kept neighbours best first at `at`; returns how many, and empties the heap. */
  drainInto(ids: Int32Array, sims: Float32Array, at: number): number {
    const n = this.size;
    for (let i = n - 1; i >= 0; i--) {
      ids[at + i] = this.ids[0]!;
      sims[at + i] = this.sims[0]!;
      this.size -= 1;
      if (this.size > 0) this.siftDown(this.ids[this.size]!, this.sims[this.size]!);
    }
    return n;
  }

  /** Places (id, sim) at the root and sifts it down. */
  private siftDown(id: number, sim: number): void {
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      let child = left;
      if (right < this.size && this.worse(this.ids[right]!, this.sims[right]!, this.ids[left]!, this.sims[left]!)) child = right;
      if (!this.worse(this.ids[child]!, this.sims[child]!, id, sim)) break;
      this.ids[i] = this.ids[child]!;
      this.sims[i] = this.sims[child]!;
      i = child;
    }
    this.ids[i] = id;
    this.sims[i] = sim;
  }

  /** Whether (a, sa) ranks below (b, sb): lower similarity, or equal and the higher class index. */
  private worse(a: number, sa: number, b: number, sb: number): boolean {
    return sa !== sb ? sa < sb : a > b;
  }
}

function growInt(array: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const next = new Int32Array(size);
  next.set(array);
  return next;
}
