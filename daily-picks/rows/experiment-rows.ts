/**
 * The live experiments as the rows step sees them: which rows each ranks, the variant of each
 * member (by hash, as the picks API computes it), how many members each variant got; and a
 * compact store of the rows a variant's ranking gave its members, kept between the passes over
 * the rankings (see rowsStep).
 */
import { VARIANT_RANKERS, variantOf, type Experiment, type VariantRanker } from '../experiments/experiment.ts';
import type { CutRow } from './cut-rows.ts';
import { ROW_NAMES } from './row-specs.ts';

/** A member's place in one live experiment: its variant and the rows the variant ranks. */
export interface RowAssignment {
  key: string;
  variant: string;
  rows: ReadonlySet<string>;
}

/** An experiment's rows and members per variant in one run (a type, not an interface: it is task output JSON). */
export type ExperimentCounts = {
  key: string;
  rows: string[];
  /** Variant key → members assigned to it (in the picks published). */
  variants: Record<string, number>;
};

/** What ranks a variant: one of VARIANT_RANKERS, or a registered model version. */
export type VariantSource = VariantRanker | { version: string };

export function variantSource(variant: string): VariantSource {
  return (VARIANT_RANKERS as readonly string[]).includes(variant) ? (variant as VariantRanker) : { version: variant };
}

interface LiveExperiment {
  experiment: Experiment;
  rows: Set<string>;
  counts: Map<string, number>;
}

export class ExperimentRows {
  private readonly live: LiveExperiment[] = [];
  /** Every row some live experiment ranks. */
  readonly rows = new Set<string>();

  /**
   * `experiments` oldest first (as activeExperiments gives them). Two live experiments may not
   * share a row (the store refuses it); if they do anyway, the older one keeps the row, said in
   * the log, so a member's row is never ranked by two variants.
   */
  constructor(experiments: readonly Experiment[], log: (message: string) => void) {
    for (const experiment of experiments) {
      const rows = new Set<string>();
      for (const row of experiment.rows) {
        if (!(ROW_NAMES as readonly string[]).includes(row)) log(`experiment ${experiment.key}: ${row} is not a Daily Picks row; left out`);
        else if (this.rows.has(row)) log(`experiment ${experiment.key}: ${row} is already ranked by an older live experiment, which keeps it`);
        else rows.add(row);
      }
      if (rows.size === 0) {
        log(`experiment ${experiment.key} ranks no row this run`);
        continue;
      }
      for (const row of rows) this.rows.add(row);
      this.live.push({ experiment, rows, counts: new Map(experiment.variants.map((v) => [v.key, 0])) });
    }
  }

  get size(): number {
    return this.live.length;
  }

  /** The variant keys of the live experiments. */
  variants(): Set<string> {
    return new Set(this.live.flatMap((l) => l.experiment.variants.map((v) => v.key)));
  }

  /** `memberId`'s variant in each live experiment (`count`: add them to the variants' member counts). */
  assign(memberId: string, count = false): RowAssignment[] {
    if (this.live.length === 0) return [];
    return this.live.map((l) => {
      const variant = variantOf(l.experiment, memberId).key;
      if (count) l.counts.set(variant, (l.counts.get(variant) ?? 0) + 1);
      return { key: l.experiment.key, variant, rows: l.rows };
    });
  }

  describe(): string[] {
    return this.live.map((l) => `${l.experiment.key} (rows ${[...l.rows].join(', ')}; ${l.experiment.variants.map((v) => `${v.key} ${v.weight}%`).join(', ')})`);
  }

  summary(): ExperimentCounts[] {
    return this.live.map((l) => ({ key: l.experiment.key, rows: [...l.rows], variants: Object.fromEntries(l.counts) }));
  }
}

/** A typed array that grows as values are appended. */
class Growable<T extends Int32Array | Float64Array> {
  length = 0;
  constructor(private data: T) {}

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new (this.data.constructor as new (n: number) => T)(Math.max(1024, this.data.length * 2));
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  at(i: number): number {
    return this.data[i]!;
  }
}

/**
 * Cut rows of some members, kept in typed arrays (a few bytes a pick, not an object each): the
 * rows step keeps a variant's rows of the members assigned to it here while it streams the
 * variant's ranking, and takes them back when it writes the member's picks.
 */
export class RowStore {
  /** Member index → first row entry × 8 + row count (a member has at most the four rows). */
  private readonly members = new Map<number, number>();
  private readonly rowName = new Growable(new Int32Array(0));
  private readonly rowStart = new Growable(new Int32Array(0));
  private readonly rowLength = new Growable(new Int32Array(0));
  private readonly classIdx = new Growable(new Int32Array(0));
  private readonly score = new Growable(new Float64Array(0));
  private readonly reason = new Growable(new Int32Array(0));
  private readonly reasons: string[] = [];
  private readonly reasonIds = new Map<string, number>();

  has(member: number): boolean {
    return this.members.has(member);
  }

  /** Keeps `rows` of `member` (a later put for the same member is ignored: the first ranking wins). */
  put(member: number, rows: readonly CutRow[]): void {
    if (this.members.has(member)) return;
    this.members.set(member, this.rowName.length * 8 + rows.length);
    for (const row of rows) {
      this.rowName.push(ROW_NAMES.indexOf(row.row as (typeof ROW_NAMES)[number]));
      this.rowStart.push(this.classIdx.length);
      this.rowLength.push(row.picks.length);
      for (const pick of row.picks) {
        this.classIdx.push(pick.classIdx);
        this.score.push(pick.score);
        let id = this.reasonIds.get(pick.reason);
        if (id === undefined) {
          id = this.reasons.length;
          this.reasons.push(pick.reason);
          this.reasonIds.set(pick.reason, id);
        }
        this.reason.push(id);
      }
    }
  }

  get(member: number): CutRow[] | null {
    const slot = this.members.get(member);
    if (slot === undefined) return null;
    const first = Math.floor(slot / 8);
    const rows: CutRow[] = [];
    for (let r = first; r < first + (slot % 8); r++) {
      const start = this.rowStart.at(r);
      const picks = [];
      for (let k = start; k < start + this.rowLength.at(r); k++) picks.push({ classIdx: this.classIdx.at(k), score: this.score.at(k), reason: this.reasons[this.reason.at(k)]! });
      rows.push({ row: ROW_NAMES[this.rowName.at(r)]!, picks });
    }
    return rows;
  }
}
