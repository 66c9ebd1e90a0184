import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Bool, RecordBatchFileWriter, Utf8, makeVector, Table, vectorFromArray } from 'apache-arrow';

/** A column of one batch: strings (Utf8, nullable), typed arrays, or booleans. */
export type ColumnValues = (string | null)[] | Float64Array | Float32Array | Int32Array | Uint32Array | (boolean | null)[];

/**
 * One column as an Arrow vector: a typed array as its own type (Float64, Float32, Int32,
 * Uint32), an array as Utf8 (nullable) — or as Bool when `type` says so or, without `type`,
 * when its first value is a boolean.
 */
export function columnVector(values: ColumnValues, type?: 'utf8' | 'bool') {
  if (values instanceof Float64Array || values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint32Array) {
    return makeVector(values);
  }
  if (type === 'bool' || (type === undefined && values.length > 0 && typeof values[0] === 'boolean')) return vectorFromArray(values as (boolean | null)[], new Bool());
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

  /** Starts a file (its folder is created); nothing is at `file` until `close()`. */
  static async create(file: string): Promise<ArrowFileWriter> {
    await mkdir(path.dirname(file), { recursive: true });
    return new ArrowFileWriter(file);
  }

  /** Appends one batch; every batch must have the same columns and types. An empty batch is skipped. */
  async write(columns: Record<string, ColumnValues>): Promise<void> {
    const entries = Object.entries(columns);
    const length = entries[0]?.[1].length ?? 0;
    if (length === 0) return;
    await this.writeTable(new Table(Object.fromEntries(entries.map(([name, values]) => [name, columnVector(values)]))));
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

  /** Gives the file up (after a failed read, say): the partial file is removed, `file` is left as it was. */
  async discard(): Promise<void> {
    this.writer.finish();
    await this.done.catch(() => undefined);
    await rm(this.partial, { force: true });
  }
}
