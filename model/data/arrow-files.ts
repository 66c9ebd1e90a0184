import { open } from 'node:fs/promises';
import { RecordBatchReader, type RecordBatch, type TypeMap } from 'apache-arrow';

// Reading the Arrow IPC files the pipeline writes (operators/arrow-file.ts writes them).

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
