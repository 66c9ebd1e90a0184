/**
 * Partial top-N selection over one member's scores: a bounded min-heap, so a catalogue of
 * C classes costs O(C log N) and most classes are rejected by one comparison. Ties go to the
 * newer class (later `airedAt`).
 */
export class TopN {
  private readonly heap: Int32Array;
  private size = 0;

  constructor(
    readonly capacity: number,
    private readonly airedAt: Float64Array,
  ) {
    this.heap = new Int32Array(Math.max(1, capacity));
  }

  /**
   * The indices of the `capacity` best scores, best first, skipping `excluded[c] === 1`
   * (classes a member already took) and non-finite scores.
   */
  select(scores: Float64Array | Float32Array, excluded?: Uint8Array): Int32Array {
    this.size = 0;
    const n = scores.length;
    const capacity = this.capacity;
    for (let c = 0; c < n; c++) {
      if (excluded !== undefined && excluded[c] === 1) continue;
      const s = scores[c]!;
      if (!Number.isFinite(s)) continue;
      if (this.size < capacity) {
        this.push(c, scores);
      } else if (this.better(c, this.heap[0]!, scores)) {
        this.heap[0] = c;
        this.siftDown(0, scores);
      }
    }
    const out = new Int32Array(this.size);
    for (let i = this.size - 1; i >= 0; i--) {
      out[i] = this.heap[0]!;
      this.heap[0] = this.heap[this.size - 1]!;
      this.size -= 1;
      this.siftDown(0, scores);
    }
    return out;
  }

  /** Whether class a ranks above class b. */
  private better(a: number, b: number, scores: Float64Array | Float32Array): boolean {
    const sa = scores[a]!;
    const sb = scores[b]!;
    if (sa !== sb) return sa > sb;
    const ta = this.airedAt[a]!;
    const tb = this.airedAt[b]!;
    if (ta !== tb) return (Number.isNaN(tb) && !Number.isNaN(ta)) || ta > tb;
    return a < b;
  }

  private push(c: number, scores: Float64Array | Float32Array): void {
    let i = this.size++;
    this.heap[i] = c;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.better(this.heap[parent]!, this.heap[i]!, scores)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(start: number, scores: Float64Array | Float32Array): void {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let worst = i;
      if (left < this.size && this.better(this.heap[worst]!, this.heap[left]!, scores)) worst = left;
      if (right < this.size && this.better(this.heap[worst]!, this.heap[right]!, scores)) worst = right;
      if (worst === i) return;
      this.swap(i, worst);
      i = worst;
    }
  }

  private swap(a: number, b: number): void {
    const t = this.heap[a]!;
    this.heap[a] = this.heap[b]!;
    this.heap[b] = t;
  }
}
