import { createWriteStream } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import {
  Bool,
  RecordBatchFileWriter,
  RecordBatchReader,
  Utf8,
  makeVector,
  Table,
  vectorFromArray,
  type RecordBatch,
  type TypeMap,
} from 'apache-arrow';

/** A column of one batch: strings (Utf8, nullable), typed arrays, or booleans. */
export type ColumnValues = (string | null)[] | Float64Array | Float32Array | Int32Array | Uint32Array | boolean[];

function toVector(values: ColumnValues) {
  if (values instanceof Float64Array || values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint32Array) {
    return makeVector(values);
  }
  if (values.length > 0 && typeof values[0] === 'boolean') return vectorFromArray(values as boolean[], new Bool());
  return vectorFromArray(values as (string | null)[], new Utf8());
}

/**
 * Writes an Arrow IPC file (Feather v2) batch by batch, so a large artifact never sits in
 * memory whole. The file appears under its name only once `close()` has finished, so a
 * crashed try never leaves a truncated artifact that a retry would read.
 */
export class ArrowFileWriter {
  private readonly writer = new RecordBatchFileWriter();
  private readonly done: Promise<void>;
  private readonly partial: string;
  rows = 0;

  private constructor(readonly file: string) {
    this.partial = `${file}.partial-${process.pid}`;
    const out = createWriteStream(this.partial);
    this.done = pipeline(Readable.from(this.writer as AsyncIterable<Uint8Array>), out);
  }

  static async create(file: string): Promise<ArrowFileWriter> {
    await mkdir(path.dirname(file), { recursive: true });
    return new ArrowFileWriter(file);
  }

  /** Appends one batch; every batch must have the same columns and types. */
  async write(columns: Record<string, ColumnValues>): Promise<void> {
    const entries = Object.entries(columns);
    const length = entries[0]?.[1].length ?? 0;
    if (length === 0) return;
    await this.writeTable(new Table(Object.fromEntries(entries.map(([name, values]) => [name, toVector(values)]))));
  }

  /** Appends a table's batches (for column types `write` does not build, such as lists). */
  async writeTable(table: Table): Promise<void> {
    for (const batch of table.batches) this.writer.write(batch);
    this.rows += table.numRows;
    // Let the file stream drain between batches, so memory stays at about one batch.
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** Finishes the file and moves it into place. */
  async close(): Promise<void> {
    this.writer.finish();
    await this.done;
    await rename(this.partial, this.file);
  }
}

/**
 * The record batches of an Arrow IPC file, one at a time. Read through a file handle (random
 * access), not a read stream: arrow's node-stream adapter stalls when the consumer awaits
 * other I/O between batches.
 */
export async function* readArrowBatches<T extends TypeMap = TypeMap>(file: string): AsyncGenerator<RecordBatch<T>> {
  const handle = await open(file, 'r');
  try {
    const reader = await RecordBatchReader.from<T>(handle);
    for await (const batch of reader) yield batch;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** A string column of a batch as a JS array. */
export function stringColumn(batch: RecordBatch, name: string): (string | null)[] {
  const vector = batch.getChild(name);
  if (!vector) throw new Error(`artifact batch has no column "${name}"`);
  return vector.toArray() as (string | null)[];
}

/** A numeric column of a batch as its typed array. */
export function numberColumn<T extends Float64Array | Float32Array | Int32Array | Uint32Array>(batch: RecordBatch, name: string): T {
  const vector = batch.getChild(name);
  if (!vector) throw new Error(`artifact batch has no column "${name}"`);
  return vector.toArray() as T;
}
