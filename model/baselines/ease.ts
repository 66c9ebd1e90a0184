/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): an item × item
 * weight matrix B with a zero diagonal, fitted in closed form on the binary member × class
 * matrix X. G = XᵀX + λI, P = G⁻¹, B_ij = −P_ij / P_jj (B_jj = 0); a member's scores are x_u·B.
 * One dense n × n inverse, so only the `maxItems` most-taken classes enter the model; it is
 * the strongest non-neural baseline on MovieLens-like data and cheap to serve (one row of B
 * added per class in the member's history).
 */
import { randomBytes } from 'node:crypto';
import { endianness } from 'node:os';
import { open, readFile, rename, rm } from 'node:fs/promises';
import type { History } from '../data/history.ts';

export interface EaseOptions {
  /**
   * L2 regularisation λ added to the diagonal of XᵀX. Larger pulls B towards plain
   * co-occurrence; smaller lets the classes a member took explain each other away.
   * @defaultValue `lambdaPerClass` × the mean number of distinct covered classes per member
   * (members with none left out): ≈ 420 on MovieLens 100k, ≈ 640 on 1M, ≈ 60 on the seed model
   */
  lambda?: number;
  /**
   * Sets the default λ relative to how long member histories are. The best λ moved with
   * history length, not with member count or class popularity: on a per-member time split
   * the best λ was 20–50 for the seed model's ~12 classes per member, ~50–200 for its 24, and
   * 300–1000 for MovieLens's 85–130 (with recency-weighted scoring; plain scoring liked
   * 200 on 100k and ≥ 2000 on 1M). Five times the mean length came within 1–4% of the best
   * nDCG@10 on every one of them, where any single constant lost 5–8% somewhere.
   * @defaultValue 5
   */
  lambdaPerClass?: number;
  /**
   * Only the most-interacted classes (most distinct members) enter the model: the fit takes
   * about maxItems³ / 2 multiply-adds and 12 · maxItems² bytes at its peak.
   * @defaultValue 3000 (the whole fit took 18–34 s on a 2-core machine shared with other jobs;
   * the inverse alone 4 s at 2000, 18 s at 3000, 37 s at 4000). On ml-latest-small, 3000 of its
   * 9724 movies scored as well as 4000 and 1% above 2000.
   */
  maxItems?: number;
}

const MAGIC = 'EASE';
const FORMAT_VERSION = 1;

/** The JSON header of a saved model. */
interface EaseHeader {
  version: number;
  catalogueSize: number;
  lambda: number;
  items: number[];
}

/**
 * A fitted EASE model over `items` (a subset of the catalogue). B is kept in float32: it halves
 * memory and the artifact, and the rounding (relative 6e-8) is far below what separates two
 * recommendations; scores are summed in float64.
 */
export class Ease {
  /** Local index of each catalogue class in `items`, or −1 when the model does not cover it. */
  private readonly local: Int32Array;
  private readonly accumulator: Float64Array;
  private readonly rowWeights: Float64Array;
  private readonly touched: Int32Array;

  private constructor(
    readonly catalogueSize: number,
    /** Class indices the model covers, ascending (not by popularity), so a class's row is found by index. */
    readonly items: Int32Array,
    /** The λ the model was fitted with (the default resolved). */
    readonly lambda: number,
    /** Row-major items.length² weights: B[i · n + j] is how much having item i says about item j. */
    readonly weights: Float32Array,
  ) {
    const n = items.length;
    if (weights.length !== n * n) throw new Error(`Ease: ${weights.length} weights for ${n} items`);
    this.local = new Int32Array(catalogueSize).fill(-1);
    for (let i = 0; i < n; i++) {
      const c = items[i]!;
      if (!Number.isInteger(c) || c < 0 || c >= catalogueSize) throw new Error(`Ease: item ${c} outside a catalogue of ${catalogueSize}`);
      if (i > 0 && c <= items[i - 1]!) throw new Error('Ease: items must be strictly ascending');
      this.local[c] = i;
    }
    this.accumulator = new Float64Array(n);
    this.rowWeights = new Float64Array(n);
    this.touched = new Int32Array(n);
  }

  /**
   * Fits on every workout in `history` (classes must be indices below `catalogueSize`). A
   * member counts once per class however often they took it: X is binary.
   */
  static fit(history: History, catalogueSize: number, options: EaseOptions = {}): Ease {
    const maxItems = options.maxItems ?? 3000;
    const lambdaPerClass = options.lambdaPerClass ?? 5;
    if (!Number.isInteger(catalogueSize) || catalogueSize < 0) throw new Error(`Ease: catalogueSize must be a non-negative integer, got ${catalogueSize}`);
    if (!Number.isInteger(maxItems) || maxItems < 0) throw new Error(`Ease: maxItems must be a non-negative integer, got ${maxItems}`);
    if (options.lambda !== undefined && !(options.lambda > 0 && Number.isFinite(options.lambda))) throw new Error(`Ease: lambda must be > 0, got ${options.lambda}`);
    if (!(lambdaPerClass > 0 && Number.isFinite(lambdaPerClass))) throw new Error(`Ease: lambdaPerClass must be > 0, got ${lambdaPerClass}`);
    const C = catalogueSize;
    const members = history.memberCount;

    // Distinct members per class, to choose the covered set.
    const counts = new Int32Array(C);
    const lastMember = new Int32Array(C).fill(-1);
    for (let m = 0; m < members; m++) {
      const { start, end } = history.workoutsOf(m);
      for (let w = start; w < end; w++) {
        const c = history.classIdx[w]!;
        if (c < 0 || c >= C) throw new Error(`Ease: class index ${c} outside a catalogue of ${C}`);
        if (lastMember[c] === m) continue;
        lastMember[c] = m;
        counts[c]! += 1;
      }
    }
    const items = topByCount(counts, maxItems);
    const n = items.length;
    const local = new Int32Array(C).fill(-1);
    items.forEach((c, i) => (local[c] = i));

    // Lower triangle of XᵀX: each member adds 1 for every pair of their distinct covered classes.
    const gram = new Float64Array(n * n);
    const mine = new Int32Array(n);
    const seen = new Int32Array(n).fill(-1);
    let activeMembers = 0;
    let entries = 0;
    for (let m = 0; m < members; m++) {
      const { start, end } = history.workoutsOf(m);
      let k = 0;
      for (let w = start; w < end; w++) {
        const i = local[history.classIdx[w]!]!;
        if (i < 0 || seen[i] === m) continue;
        seen[i] = m;
        mine[k++] = i;
      }
      if (k === 0) continue;
      activeMembers += 1;
      entries += k;
      const list = mine.subarray(0, k).sort();
      for (let p = 0; p < k; p++) {
        const row = list[p]! * n;
        for (let q = 0; q <= p; q++) gram[row + list[q]!]! += 1;
      }
    }
    const lambda = options.lambda ?? lambdaPerClass * Math.max(1, entries / Math.max(1, activeMembers));
    return new Ease(C, items, lambda, easeWeights(gram, n, lambda));
  }

  /**
   * Scores every class for a member whose history is `classIdx`: out[j] = Σ_i w_i · B[i, j]
   * over the member's distinct covered classes i. A class listed several times counts once,
   * with the largest of its weights: the model was fitted on a binary X, so a row weight above
   * 1 would be outside anything it saw, and on the seed model (38% of workouts are repeats) the
   * max beat the sum on recall@10 in 16 of 20 (λ, weighting) settings. `weights` null means 1
   * for every entry (plain EASE). Recency weights pay: halving every 3–5 interactions raised
   * nDCG@10 by 11–58% on MovieLens; 30-day half-lives helped a little on the seed model.
   * Classes the model does not cover
   * get one finite score just below the lowest covered score, so a top-N never picks them
   * before a covered class yet can still fill a list with them (ties are the caller's). `out`
   * has catalogueSize entries; masking classes already taken is the caller's.
   */
  score(classIdx: ArrayLike<number>, weights: ArrayLike<number> | null, out: Float64Array): void {
    if (out.length !== this.catalogueSize) throw new Error(`Ease.score: out has ${out.length} entries for a catalogue of ${this.catalogueSize}`);
    if (weights !== null && weights.length < classIdx.length) throw new Error(`Ease.score: ${weights.length} weights for ${classIdx.length} classes`);
    const n = this.items.length;
    const acc = this.accumulator;
    const rowWeights = this.rowWeights;
    const touched = this.touched;
    let count = 0;
    for (let h = 0; h < classIdx.length; h++) {
      const c = classIdx[h]!;
      if (!(c >= 0 && c < this.catalogueSize)) continue;
      const i = this.local[c];
      // A fractional index finds no entry at all.
      if (i === undefined || i < 0) continue;
      const w = weights === null ? 1 : weights[h]!;
      if (!(w >= 0 && w < Number.POSITIVE_INFINITY)) throw new Error(`Ease.score: weight ${w} at ${h} is not a finite non-negative number`);
      if (rowWeights[i] === 0) {
        if (w === 0) continue;
        touched[count++] = i;
      }
      if (w > rowWeights[i]!) rowWeights[i] = w;
    }
    acc.fill(0);
    const B = this.weights;
    for (let t = 0; t < count; t++) {
      const i = touched[t]!;
      const w = rowWeights[i]!;
      rowWeights[i] = 0;
      const row = i * n;
      for (let j = 0; j < n; j++) acc[j]! += w * B[row + j]!;
    }
    let lowest = Number.POSITIVE_INFINITY;
    for (let j = 0; j < n; j++) if (acc[j]! < lowest) lowest = acc[j]!;
    // With nothing covered the fill still sits below every covered score (all 0).
    out.fill(n === 0 ? 0 : lowest - 1);
    for (let j = 0; j < n; j++) out[this.items[j]!] = acc[j]!;
  }

  /**
   * Writes the model to `file`: "EASE", a uint32 header length, the JSON header (version,
   * catalogueSize, lambda, items), padding to a multiple of 4 bytes, then B as little-endian
   * float32, row-major. Written to a temporary name and renamed, so a reader never sees half a
   * file.
   */
  async save(file: string): Promise<void> {
    assertLittleEndian();
    const header: EaseHeader = { version: FORMAT_VERSION, catalogueSize: this.catalogueSize, lambda: this.lambda, items: Array.from(this.items) };
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const prefixLength = MAGIC.length + 4 + json.length;
    const padded = Math.ceil(prefixLength / 4) * 4;
    const prefix = Buffer.alloc(padded, 0x20);
    prefix.write(MAGIC, 0, 'latin1');
    prefix.writeUInt32LE(json.length, MAGIC.length);
    json.copy(prefix, MAGIC.length + 4);
    const body = Buffer.from(this.weights.buffer, this.weights.byteOffset, this.weights.byteLength);
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temporary, 'w');
    try {
      await handle.writev([prefix, body]);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(temporary, { force: true });
      throw error;
    }
    await handle.close();
    await rename(temporary, file);
  }

  /** Reads a model `save` wrote. */
  static async load(file: string): Promise<Ease> {
    assertLittleEndian();
    const bytes = await readFile(file);
    if (bytes.length < MAGIC.length + 4 || bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error(`Ease.load: ${file} is not an EASE model`);
    const jsonLength = bytes.readUInt32LE(MAGIC.length);
    const jsonEnd = MAGIC.length + 4 + jsonLength;
    if (jsonEnd > bytes.length) throw new Error(`Ease.load: ${file} is truncated`);
    const header = parseHeader(bytes.toString('utf8', MAGIC.length + 4, jsonEnd), file);
    const bodyStart = Math.ceil(jsonEnd / 4) * 4;
    const n = header.items.length;
    if (bytes.length !== bodyStart + n * n * 4) throw new Error(`Ease.load: ${file} has ${bytes.length - bodyStart} weight bytes for ${n} items`);
    // A copy: the file buffer's offset need not be 4-byte aligned.
    const weights = new Float32Array(n * n);
    new Uint8Array(weights.buffer).set(bytes.subarray(bodyStart));
    return new Ease(header.catalogueSize, Int32Array.from(header.items), header.lambda, weights);
  }
}

function parseHeader(text: string, file: string): EaseHeader {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null) throw new Error(`Ease.load: ${file} has no header`);
  const { version, catalogueSize, lambda, items } = value as Record<string, unknown>;
  if (version !== FORMAT_VERSION) throw new Error(`Ease.load: ${file} is format version ${String(version)}, expected ${FORMAT_VERSION}`);
  if (typeof catalogueSize !== 'number' || typeof lambda !== 'number' || !Array.isArray(items) || !items.every((c): c is number => typeof c === 'number')) {
    throw new Error(`Ease.load: ${file} has a malformed header`);
  }
  return { version, catalogueSize, lambda, items };
}

function assertLittleEndian(): void {
  // The weights are written and read as the machine's float32 bytes.
  if (endianness() !== 'LE') throw new Error('Ease: saved models are little-endian; this machine is not');
}

/**
 * The `maxItems` classes with the highest counts (ties to the lower class index), leaving out
 * classes nobody took (their rows would be all zero), as ascending class indices.
 */
function topByCount(counts: Int32Array, maxItems: number): Int32Array {
  const order: number[] = [];
  for (let c = 0; c < counts.length; c++) if (counts[c]! > 0) order.push(c);
  if (order.length > maxItems) {
    order.sort((a, b) => counts[b]! - counts[a]! || a - b);
    order.length = maxItems;
  }
  return Int32Array.from(order).sort();
}

/**
 * The EASE weights from the Gram matrix: B = I − P·diag(1/diag P) with B_jj = 0, P = (G + λI)⁻¹.
 * `gram` is n × n row-major and only its lower triangle (j ≤ i) is read; it is overwritten
 * (it holds L, then L⁻ᵀ, then P). Exported so tests can check it in float64.
 *
 * G + λI is symmetric positive definite (λ > 0), so: Cholesky G = LLᵀ (n³/6 multiply-adds),
 * the columns of L⁻¹ by forward substitution (n³/6), and P = L⁻ᵀL⁻¹ (n³/6, lower half only) —
 * half the work of Gauss–Jordan. L and L⁻ᵀ share one buffer (lower and strictly upper
 * triangles). Every inner loop is a dot product over contiguous rows, and rows are taken
 * `BLOCK` at a time, four per pass, against one streamed row: an unblocked version spends most
 * of its time waiting on memory once the matrix outgrows the cache (9.2 s against 3.7 s at
 * n = 2000).
 * @returns B as float32, row-major, or in `out` (e.g. a Float64Array)
 */
export function easeWeights<T extends Float32Array | Float64Array = Float32Array>(gram: Float64Array, n: number, lambda: number, out?: T): T {
  if (gram.length !== n * n) throw new Error(`easeWeights: ${gram.length} entries for ${n} × ${n}`);
  const B = (out ?? new Float32Array(n * n)) as T;
  if (B.length !== n * n) throw new Error(`easeWeights: out has ${B.length} entries for ${n} × ${n}`);
  const A = gram;
  for (let i = 0; i < n; i++) A[i * n + i]! += lambda;
  const inverseDiagonal = cholesky(A, n);
  invertLowerTransposed(A, n, inverseDiagonal);
  inverseFromFactor(A, n, inverseDiagonal);
  // P's lower triangle (diagonal included) is in A; P is symmetric. Tiles keep the transposed
  // reads of the upper half in cache.
  const tile = 64;
  for (let i0 = 0; i0 < n; i0 += tile) {
    const i1 = Math.min(n, i0 + tile);
    for (let j0 = 0; j0 < n; j0 += tile) {
      const j1 = Math.min(n, j0 + tile);
      for (let i = i0; i < i1; i++) {
        const row = i * n;
        for (let j = j0; j < j1; j++) B[row + j] = i === j ? 0 : -(j < i ? A[row + j]! : A[j * n + i]!) / A[j * n + j]!;
      }
    }
  }
  return B;
}

/** Rows handled together: they stay in cache while every earlier row streams past once. */
const BLOCK = 32;

/** In-place lower Cholesky, row by row (Banachiewicz), `BLOCK` rows at a time; returns 1 / L_ii. */
function cholesky(A: Float64Array, n: number): Float64Array {
  const inverseDiagonal = new Float64Array(n);
  const sums = new Float64Array(8);
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    // L_ij for the block's rows and every earlier column: each needs only columns < j of its own row.
    // Two columns per pass: column j + 1 needs L_ij, which is added once the pass has it.
    for (let j = 0; j < i0; j += 2) {
      const rj = j * n;
      if (j + 1 === i0) {
        const inverse = inverseDiagonal[j]!;
        for (let g = i0; g < i1; g += 4) {
          const last = Math.min(g + 3, i1 - 1);
          dot4(A, g * n, Math.min(g + 1, last) * n, Math.min(g + 2, last) * n, last * n, A, rj, 0, j, sums);
          for (let q = 0; g + q <= last; q++) {
            const at = (g + q) * n + j;
            A[at] = (A[at]! - sums[q]!) * inverse;
          }
        }
        continue;
      }
      const rj1 = rj + n;
      const inverse0 = inverseDiagonal[j]!;
      const inverse1 = inverseDiagonal[j + 1]!;
      const l10 = A[rj1 + j]!;
      for (let g = i0; g < i1; g += 4) {
        const last = Math.min(g + 3, i1 - 1);
        dot4x2(A, g * n, Math.min(g + 1, last) * n, Math.min(g + 2, last) * n, last * n, A, rj, rj1, 0, j, sums);
        for (let q = 0; g + q <= last; q++) {
          const at = (g + q) * n + j;
          const lij = (A[at]! - sums[q]!) * inverse0;
          A[at] = lij;
          A[at + 1] = (A[at + 1]! - sums[4 + q]! - lij * l10) * inverse1;
        }
      }
    }
    // The block's own triangle.
    for (let i = i0; i < i1; i++) {
      const ri = i * n;
      for (let j = i0; j < i; j++) A[ri + j] = (A[ri + j]! - dot(A, ri, A, j * n, 0, j)) * inverseDiagonal[j]!;
      const d = A[ri + i]! - dot(A, ri, A, ri, 0, i);
      if (!(d > 0)) throw new Error(`easeWeights: matrix not positive definite at row ${i} (is λ > 0?)`);
      const l = Math.sqrt(d);
      A[ri + i] = l;
      inverseDiagonal[i] = 1 / l;
    }
  }
  return inverseDiagonal;
}

/**
 * Writes U = L⁻ᵀ into the strict upper triangle of A, keeping L in the lower one: row j of U is
 * column j of L⁻¹, solved from L·u = e_j, so u_i = −(Σ_{j≤k<i} L_ik u_k) / L_ii for i > j and
 * u_j = 1/L_jj (kept in `inverseDiagonal`, since A's diagonal still holds L_jj). `BLOCK`
 * columns are solved together so each row of L is read once per block.
 */
function invertLowerTransposed(A: Float64Array, n: number, inverseDiagonal: Float64Array): void {
  const V = new Float64Array(BLOCK * n);
  const sums = new Float64Array(8);
  for (let j0 = 0; j0 < n; j0 += BLOCK) {
    const width = Math.min(BLOCK, n - j0);
    // Zeros below each column's own start make one shared summation range [j0, i) exact.
    V.fill(0);
    for (let r = 0; r < width; r++) V[r * n + j0 + r] = inverseDiagonal[j0 + r]!;
    // Two rows of L per pass: u_{i+1} needs u_i, which is added once the pass has it.
    for (let i = j0 + 1; i < n; i += 2) {
      const ri = i * n;
      if (i + 1 === n) {
        const solved = Math.min(width, i - j0);
        for (let g = 0; g < solved; g += 4) {
          const last = Math.min(g + 3, solved - 1);
          dot4(V, g * n, Math.min(g + 1, last) * n, Math.min(g + 2, last) * n, last * n, A, ri, j0, i, sums);
          for (let q = 0; g + q <= last; q++) V[(g + q) * n + i] = -sums[q]! * inverseDiagonal[i]!;
        }
        continue;
      }
      const ri1 = ri + n;
      const l10 = A[ri1 + i]!;
      const inverse0 = inverseDiagonal[i]!;
      const inverse1 = inverseDiagonal[i + 1]!;
      // Column j0 + r is solved from row j0 + r + 1 on; the one starting at i keeps u_i = 1/L_ii.
      const solved0 = Math.min(width, i - j0);
      const solved1 = Math.min(width, i + 1 - j0);
      for (let g = 0; g < solved1; g += 4) {
        const last = Math.min(g + 3, solved1 - 1);
        dot4x2(V, g * n, Math.min(g + 1, last) * n, Math.min(g + 2, last) * n, last * n, A, ri, ri1, j0, i, sums);
        for (let q = 0; g + q <= last; q++) {
          const at = (g + q) * n + i;
          if (g + q < solved0) V[at] = -sums[q]! * inverse0;
          V[at + 1] = -(sums[4 + q]! + l10 * V[at]!) * inverse1;
        }
      }
    }
    for (let r = 0; r < width; r++) {
      const j = j0 + r;
      A.set(V.subarray(r * n + j + 1, r * n + n), j * n + j + 1);
    }
  }
}

/**
 * P = UᵀU with U = L⁻ᵀ upper triangular: P_ij = U_ii U_ji + Σ_{k > i} U_ik U_jk for j ≤ i, a dot
 * product of two rows of U. Written into A's lower triangle, where L was, `BLOCK` rows at a time.
 */
function inverseFromFactor(A: Float64Array, n: number, inverseDiagonal: Float64Array): void {
  const sums = new Float64Array(8);
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    for (let j = 0; j < i0; j += 2) {
      const pair = j + 1 < i0;
      const rj = j * n;
      const rj1 = pair ? rj + n : rj;
      for (let g = i0; g < i1; g += 4) {
        const last = Math.min(g + 3, i1 - 1);
        // The group's common range is k > last; the few k in (i, last] are added one by one.
        dot4x2(A, g * n, Math.min(g + 1, last) * n, Math.min(g + 2, last) * n, last * n, A, rj, rj1, last + 1, n, sums);
        for (let q = 0; g + q <= last; q++) {
          const i = g + q;
          const ri = i * n;
          const uii = inverseDiagonal[i]!;
          let s0 = sums[q]! + uii * A[rj + i]!;
          let s1 = sums[4 + q]! + uii * A[rj1 + i]!;
          for (let k = i + 1; k <= last; k++) {
            s0 += A[ri + k]! * A[rj + k]!;
            s1 += A[ri + k]! * A[rj1 + k]!;
          }
          A[ri + j] = s0;
          if (pair) A[ri + j + 1] = s1;
        }
      }
    }
    for (let i = i0; i < i1; i++) {
      const ri = i * n;
      const uii = inverseDiagonal[i]!;
      for (let j = i0; j < i; j++) A[ri + j] = uii * A[j * n + i]! + dot(A, ri, A, j * n, i + 1, n);
      A[ri + i] = uii * uii + dot(A, ri, A, ri, i + 1, n);
    }
  }
}

/** Σ_{from≤k<to} X[x + k] · Y[y + k]. */
function dot(X: Float64Array, x: number, Y: Float64Array, y: number, from: number, to: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = from;
  for (; k + 3 < to; k += 4) {
    s0 += X[x + k]! * Y[y + k]!;
    s1 += X[x + k + 1]! * Y[y + k + 1]!;
    s2 += X[x + k + 2]! * Y[y + k + 2]!;
    s3 += X[x + k + 3]! * Y[y + k + 3]!;
  }
  for (; k < to; k++) s0 += X[x + k]! * Y[y + k]!;
  return s0 + s1 + s2 + s3;
}

/**
 * Four dot products against one shared row: out[q] = Σ_{from≤k<to} X[x_q + k] · Y[y + k]. Each
 * element of Y is loaded once for four multiply-adds.
 */
function dot4(X: Float64Array, x0: number, x1: number, x2: number, x3: number, Y: Float64Array, y: number, from: number, to: number, out: Float64Array): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let k = from; k < to; k++) {
    const v = Y[y + k]!;
    s0 += X[x0 + k]! * v;
    s1 += X[x1 + k]! * v;
    s2 += X[x2 + k]! * v;
    s3 += X[x3 + k]! * v;
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

/**
 * Eight dot products, four rows against two shared ones: out[q] = Σ X[x_q + k] · Y[y0 + k] and
 * out[4 + q] = Σ X[x_q + k] · Y[y1 + k] over from ≤ k < to — six loads for eight multiply-adds.
 */
function dot4x2(X: Float64Array, x0: number, x1: number, x2: number, x3: number, Y: Float64Array, y0: number, y1: number, from: number, to: number, out: Float64Array): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  for (let k = from; k < to; k++) {
    const v = Y[y0 + k]!;
    const w = Y[y1 + k]!;
    const a = X[x0 + k]!;
    const b = X[x1 + k]!;
    const c = X[x2 + k]!;
    const d = X[x3 + k]!;
    s0 += a * v;
    s1 += b * v;
    s2 += c * v;
    s3 += d * v;
    t0 += a * w;
    t1 += b * w;
    t2 += c * w;
    t3 += d * w;
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
  out[4] = t0;
  out[5] = t1;
  out[6] = t2;
  out[7] = t3;
}
