import { Field, Float32, List, Uint32, Utf8, makeData, makeVector, Table, vectorFromArray } from 'apache-arrow';
import { readArrowBatches, stringColumn } from '../model/data/arrow-files.ts';
import { ArrowFileWriter } from '../operators/arrow-file.ts';

/**
 * A ranking artifact: one row per ranked member with their best classes, best first.
 * Columns: `member_id` (utf8), `class_idx` (list<uint32>, indices into the run's
 * `classes.arrow`), `score` (list<float32>, the ranker's score, higher is better).
 * The heuristics step writes one; a model ranker writes one in the same format.
 */
export class RankingWriter {
  private memberIds: string[] = [];
  private offsets: number[] = [0];
  private classIdx: number[] = [];
  private scores: number[] = [];
  members = 0;

  private constructor(
    private readonly writer: ArrowFileWriter,
    private readonly batchSize: number,
  ) {}

  static async create(file: string, batchSize = 2048): Promise<RankingWriter> {
    return new RankingWriter(await ArrowFileWriter.create(file), batchSize);
  }

  async add(memberId: string, classes: ArrayLike<number>, scores: ArrayLike<number>): Promise<void> {
    this.memberIds.push(memberId);
    for (let i = 0; i < classes.length; i++) {
      this.classIdx.push(classes[i]!);
      this.scores.push(scores[i]!);
    }
    this.offsets.push(this.classIdx.length);
    this.members += 1;
    if (this.memberIds.length >= this.batchSize) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.memberIds.length === 0) return;
    const n = this.memberIds.length;
    const offsets = Int32Array.from(this.offsets);
    const list = (values: Uint32Array | Float32Array) => {
      const child = makeData({ type: values instanceof Uint32Array ? new Uint32() : new Float32(), length: values.length, nullCount: 0, data: values } as never);
      const type = new List(new Field('item', values instanceof Uint32Array ? new Uint32() : new Float32(), false));
      return makeVector(makeData({ type, length: n, nullCount: 0, valueOffsets: offsets, child } as never));
    };
    const table = new Table({
      member_id: vectorFromArray(this.memberIds, new Utf8()),
      class_idx: list(Uint32Array.from(this.classIdx)),
      score: list(Float32Array.from(this.scores)),
    });
    await this.writer.writeTable(table);
    this.memberIds = [];
    this.offsets = [0];
    this.classIdx = [];
    this.scores = [];
  }

  async close(): Promise<void> {
    await this.flush();
    await this.writer.close();
  }
}

/** One batch of a ranking: member `i`'s classes are `classIdx[offsets[i]] … classIdx[offsets[i + 1] - 1]`. */
export interface RankingBatch {
  memberIds: string[];
  offsets: Int32Array;
  classIdx: Uint32Array;
  scores: Float32Array;
}

export async function* readRanking(file: string): AsyncGenerator<RankingBatch> {
  for await (const batch of readArrowBatches(file)) {
    const classData = batch.getChild('class_idx')!.data[0]!;
    const scoreData = batch.getChild('score')!.data[0]!;
    // Arrow pads buffers to 8 bytes: only the first numRows + 1 offsets are offsets.
    const n = batch.numRows;
    const rawOffsets = (classData.valueOffsets as Int32Array).subarray(classData.offset, classData.offset + n + 1);
    const base = rawOffsets[0]!;
    const offsets = Int32Array.from(rawOffsets, (o) => o - base);
    const scoreBase = (scoreData.valueOffsets as Int32Array)[scoreData.offset]!;
    const length = offsets[n]!;
    yield {
      memberIds: stringColumn(batch, 'member_id') as string[],
      offsets,
      classIdx: (classData.children[0]!.values as Uint32Array).subarray(base, base + length),
      scores: (scoreData.children[0]!.values as Float32Array).subarray(scoreBase, scoreBase + length),
    };
  }
}
