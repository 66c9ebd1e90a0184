import { readFile, writeFile } from 'node:fs/promises';
import { numberColumn, readArrowBatches } from '../model/data/arrow-files.ts';
import { ArrowFileWriter } from '../operators/arrow-file.ts';
import type { RowExperiment } from './picks-cache.ts';
import type { CutRow } from './rows/cut-rows.ts';

/** Where a member's rows came from: the ranker (`model`), EASE, ItemKNN (`baseline`), the heuristics, popularity. */
export type PicksSource = 'model' | 'ease' | 'baseline' | 'heuristics' | 'popularity';

/** A row to write: cut rows, and the experiment variant that ranked it when one did. */
export type PicksRow = CutRow & { experiment?: RowExperiment };

/** Strings the picks file refers to by index (members, rows, reasons, class ids, model versions, experiment variants). */
export interface PicksDictionary {
  generatedAt: string;
  runId: string;
  members: string[];
  rows: string[];
  reasons: string[];
  classIds: string[];
  modelVersions: string[];
  /**
   * The experiment variants that ranked rows (the file's `experiment` column indexes it; -1:
   * none). Absent in files written before experiments.
   */
  experiments?: RowExperiment[];
  /** Rows for a member the published set does not know (no history): popular classes. */
  popularRows: { row: string; picks: { classId: string; score: number; reason: string }[] }[];
  counts: Record<PicksSource, number>;
}

function emptyBuffer() {
  return { member: [] as number[], row: [] as number[], position: [] as number[], cls: [] as number[], score: [] as number[], reason: [] as number[], model: [] as number[], experiment: [] as number[] };
}

function interner() {
  const values: string[] = [];
  const index = new Map<string, number>();
  return {
    values,
    id(value: string): number {
      let i = index.get(value);
      if (i === undefined) {
        i = values.length;
        values.push(value);
        index.set(value, i);
      }
      return i;
    },
  };
}

/**
 * The rows step's artifact: `picks.arrow` with one numeric row per pick (member, row,
 * position, class, score, reason, model — strings interned in `picks.json`), written member
 * by member so a reader can group a member's picks while streaming.
 */
export class PicksFileWriter {
  private readonly members = interner();
  private readonly rows = interner();
  private readonly reasons = interner();
  private readonly models = interner();
  private readonly experiments = interner();
  private buffer = emptyBuffer();
  readonly counts: Record<PicksSource, number> = { model: 0, ease: 0, baseline: 0, heuristics: 0, popularity: 0 };
  picks = 0;

  private constructor(
    private readonly writer: ArrowFileWriter,
    private readonly dictionaryFile: string,
    private readonly classIds: string[],
  ) {}

  static async create(file: string, dictionaryFile: string, classIds: string[]): Promise<PicksFileWriter> {
    return new PicksFileWriter(await ArrowFileWriter.create(file), dictionaryFile, classIds);
  }

  /** A member's rows; `source` and `modelVersion` say what ranked the rows no experiment covers. */
  async add(memberId: string, source: PicksSource, modelVersion: string, rows: PicksRow[]): Promise<void> {
    const member = this.members.id(memberId);
    const model = this.models.id(modelVersion);
    this.counts[source] += 1;
    const b = this.buffer;
    for (const row of rows) {
      const rowId = this.rows.id(row.row);
      // Interned as one string: a variant key never holds a NUL.
      const experiment = row.experiment ? this.experiments.id(`${row.experiment.key}\u0000${row.experiment.variant}`) : -1;
      row.picks.forEach((pick, i) => {
        b.member.push(member);
        b.row.push(rowId);
        b.position.push(i + 1);
        b.cls.push(pick.classIdx);
        b.score.push(pick.score);
        b.reason.push(this.reasons.id(pick.reason));
        b.model.push(model);
        b.experiment.push(experiment);
      });
      this.picks += row.picks.length;
    }
    if (b.member.length >= 200_000) await this.flush();
  }

  private async flush(): Promise<void> {
    const b = this.buffer;
    if (b.member.length === 0) return;
    await this.writer.write({
      member: Uint32Array.from(b.member),
      row: Int32Array.from(b.row),
      position: Int32Array.from(b.position),
      class: Uint32Array.from(b.cls),
      score: Float32Array.from(b.score),
      reason: Uint32Array.from(b.reason),
      model: Int32Array.from(b.model),
      experiment: Int32Array.from(b.experiment),
    });
    this.buffer = emptyBuffer();
  }

  async close(meta: { generatedAt: Date; runId: string; popularRows: PicksDictionary['popularRows'] }): Promise<PicksDictionary> {
    await this.flush();
    await this.writer.close();
    const dictionary: PicksDictionary = {
      generatedAt: meta.generatedAt.toISOString(),
      runId: meta.runId,
      members: this.members.values,
      rows: this.rows.values,
      reasons: this.reasons.values,
      classIds: this.classIds,
      modelVersions: this.models.values,
      experiments: this.experiments.values.map((v) => {
        const [key, variant] = v.split('\u0000') as [string, string];
        return { key, variant };
      }),
      popularRows: meta.popularRows,
      counts: this.counts,
    };
    await writeFile(this.dictionaryFile, JSON.stringify(dictionary));
    return dictionary;
  }
}

export async function readPicksDictionary(file: string): Promise<PicksDictionary> {
  return JSON.parse(await readFile(file, 'utf8')) as PicksDictionary;
}

/** One member's published rows, strings resolved. */
export interface MemberPicks {
  memberId: string;
  modelVersion: string;
  /** A row an experiment covers carries the member's variant. */
  rows: { row: string; picks: { classId: string; position: number; score: number; reason: string }[]; experiment?: RowExperiment }[];
}

/** Streams a picks file member by member, in batches of members. */
export async function* readPicksByMember(file: string, dictionary: PicksDictionary, membersPerBatch = 1000): AsyncGenerator<MemberPicks[]> {
  let current: MemberPicks | null = null;
  let currentMember = -1;
  let currentRow = -1;
  let out: MemberPicks[] = [];
  for await (const batch of readArrowBatches(file)) {
    const member = numberColumn<Uint32Array>(batch, 'member');
    const row = numberColumn<Int32Array>(batch, 'row');
    const position = numberColumn<Int32Array>(batch, 'position');
    const cls = numberColumn<Uint32Array>(batch, 'class');
    const score = numberColumn<Float32Array>(batch, 'score');
    const reason = numberColumn<Uint32Array>(batch, 'reason');
    const model = numberColumn<Int32Array>(batch, 'model');
    // Files written before experiments have no such column.
    const experiment = batch.getChild('experiment') ? numberColumn<Int32Array>(batch, 'experiment') : null;
    for (let i = 0; i < batch.numRows; i++) {
      if (member[i] !== currentMember) {
        if (current) {
          out.push(current);
          if (out.length >= membersPerBatch) {
            yield out;
            out = [];
          }
        }
        currentMember = member[i]!;
        currentRow = -1;
        current = { memberId: dictionary.members[currentMember]!, modelVersion: dictionary.modelVersions[model[i]!]!, rows: [] };
      }
      if (row[i] !== currentRow) {
        currentRow = row[i]!;
        const e = experiment?.[i] ?? -1;
        const variant = e >= 0 ? dictionary.experiments?.[e] : undefined;
        current!.rows.push(variant ? { row: dictionary.rows[currentRow]!, picks: [], experiment: { key: variant.key, variant: variant.variant } } : { row: dictionary.rows[currentRow]!, picks: [] });
      }
      current!.rows[current!.rows.length - 1]!.picks.push({
        classId: dictionary.classIds[cls[i]!]!,
        position: position[i]!,
        score: score[i]!,
        reason: dictionary.reasons[reason[i]!]!,
      });
    }
  }
  if (current) out.push(current);
  if (out.length > 0) yield out;
}
