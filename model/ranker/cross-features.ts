import type { ClassFeatures, TableName } from './features.ts';
import type { MemberContextBatch } from './member-context.ts';

/** The class features a member's own history is crossed with ("wide" inputs next to the towers). */
export const CROSS_TABLES = ['discipline', 'duration', 'instructor'] as const satisfies readonly TableName[];

/** Weight of the uniform prior in a member's smoothed shares. */
const PRIOR = 0.1;

/**
 * Member × class crosses: for each of discipline, duration and instructor, the log of the
 * member's recency-weighted share of the class's value (smoothed towards uniform). The logit
 * gets Σ_f α_f · logShare_f, with α learned — the signal the heuristics are built on, which a
 * dot product of small embeddings learns only slowly from little data. At ranking time the
 * crosses are extra columns: member rows [B, Σ V_f] against one-hot class columns [Σ V_f, C].
 */
export class CrossFeatures {
  /** Where each table's values start in a member row. */
  readonly offsets: number[];
  readonly width: number;

  constructor(
    private readonly features: ClassFeatures,
    private readonly sizes: Record<TableName, number>,
  ) {
    this.offsets = [];
    let width = 0;
    for (const t of CROSS_TABLES) {
      this.offsets.push(width);
      width += sizes[t];
    }
    this.width = width;
  }

  /** Member `row` of a context batch as log shares over every table's values, into `out[at … at + width)`. */
  memberRow(context: MemberContextBatch, row: number, out: Float32Array, at: number): void {
    const L = context.historyLength;
    const weights = context.poolWeights;
    const wBase = row * 3 * L;
    const idx = context.historyIdx;
    out.fill(0, at, at + this.width);
    for (let slot = 0; slot < L; slot++) {
      const w = weights[wBase + slot]!;
      if (w === 0) continue;
      const c = idx[row * L + slot]!;
      for (let f = 0; f < CROSS_TABLES.length; f++) out[at + this.offsets[f]! + this.features[CROSS_TABLES[f]!][c]!]! += w;
    }
    for (let f = 0; f < CROSS_TABLES.length; f++) {
      const size = this.sizes[CROSS_TABLES[f]!];
      const from = at + this.offsets[f]!;
      for (let v = 0; v < size; v++) out[from + v] = Math.log((out[from + v]! + PRIOR / size) / (1 + PRIOR));
    }
  }

  /** The crosses of a member row with class `c`, one per table, into `out[at …]`. */
  classCrosses(memberRow: Float32Array, rowAt: number, c: number, out: Float32Array, at: number): void {
    for (let f = 0; f < CROSS_TABLES.length; f++) out[at + f] = memberRow[rowAt + this.offsets[f]! + this.features[CROSS_TABLES[f]!][c]!]!;
  }

  /** One-hot columns [width × classes] (row-major): class c has a 1 at each of its values. */
  classColumns(): Float32Array {
    const n = this.features.size;
    const columns = new Float32Array(this.width * n);
    for (let f = 0; f < CROSS_TABLES.length; f++) {
      const values = this.features[CROSS_TABLES[f]!];
      for (let c = 0; c < n; c++) columns[(this.offsets[f]! + values[c]!) * n + c] = 1;
    }
    return columns;
  }
}
