/**
 * SQL → Arrow: a query's rows streamed through a server-side cursor into an Arrow IPC file, one
 * record batch per FETCH, each column converted to the Arrow type you declare. Memory stays at
 * one batch whatever the result's size, and the file appears only once it is complete.
 */
import path from 'node:path';
import { Table } from 'apache-arrow';
import type pg from 'pg';
import { task, type AnyTaskHandle, type TaskContext, type TaskDefaults, type TaskHandle } from '../core/sdk/index.ts';
import { ArrowFileWriter, columnVector, type ColumnValues } from './arrow-file.ts';
import { withConnections } from './connections.ts';
import { runArtifactDir } from './run-artifacts.ts';

/**
 * The Arrow type of a column, and how a SQL value becomes one:
 * - `utf8`: text (nullable); a non-string is written as text (a `Date` as ISO 8601).
 * - `bool`: a boolean (nullable).
 * - `float64`, `float32`: a number; numeric and bigint text is parsed, a `Date` is its epoch
 *   milliseconds, null is `NaN` (or `nullAs`).
 * - `int32`, `uint32`: as the floats, but a null needs `nullAs` (a query that returns one without
 *   it fails, naming the column).
 */
export type ArrowColumnType = 'utf8' | 'bool' | 'float64' | 'float32' | 'int32' | 'uint32';

/** A column's type, or its type and the number a SQL null is written as (numeric columns). */
export type ArrowColumn = ArrowColumnType | { type: ArrowColumnType; nullAs?: number };

export interface CursorOptions {
  /**
   * Rows per FETCH from the server-side cursor: one Arrow record batch each.
   * @defaultValue 20000
   */
  fetchSize?: number;
  /** Stops between fetches when aborted (pass `ctx.signal`). */
  signal?: AbortSignal;
}

export interface SqlToArrowOptions extends CursorOptions {
  pool: pg.Pool;
  /** The query, with `$1`, `$2`, … placeholders. Its result columns are the file's columns. */
  query: string;
  /** The placeholders' values. @defaultValue [] */
  values?: readonly unknown[];
  /** Every result column to write, by name, with its Arrow type (in the file in this order). */
  columns: Record<string, ArrowColumn>;
  /** The Arrow IPC file to write (its folder is created). */
  file: string;
}

export type SqlToArrowResult = {
  file: string;
  rows: number;
};

/**
 * A query's rows, `fetchSize` at a time, through a server-side cursor inside one read-only
 * REPEATABLE READ transaction: every batch comes from the same snapshot. The connection is
 * held until the last batch has been read (or the loop is left early). It opens its transaction
 * itself rather than through `inClientTransaction`: a generator yields inside it, and a read-only
 * snapshot has nothing to retry.
 */
export async function* cursorBatches<R extends object>(pool: pg.Pool, query: string, values: readonly unknown[] = [], options: CursorOptions = {}): AsyncGenerator<R[]> {
  const fetchSize = options.fetchSize ?? 20_000;
  if (!Number.isInteger(fetchSize) || fetchSize < 1) throw new RangeError(`fetchSize must be a positive integer (got ${fetchSize})`);
  const client = await pool.connect();
  let open = false;
  try {
    await client.query('begin isolation level repeatable read read only');
    open = true;
    await client.query(`declare flywheel_cursor no scroll cursor for ${query}`, [...values]);
    for (;;) {
      options.signal?.throwIfAborted();
      const { rows } = await client.query<R>(`fetch forward ${fetchSize} from flywheel_cursor`);
      if (rows.length === 0) break;
      yield rows;
    }
    await client.query('commit');
    open = false;
  } finally {
    // A failure, or a consumer that left the loop early: the snapshot's transaction is rolled back.
    if (open) await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

function columnOf(name: string, column: ArrowColumn): { name: string; type: ArrowColumnType; nullAs: number | undefined } {
  return typeof column === 'string' ? { name, type: column, nullAs: undefined } : { name, type: column.type, nullAs: column.nullAs };
}

function toNumber(name: string, value: unknown, nullAs: number | undefined): number {
  if (value === null || value === undefined) {
    if (nullAs === undefined) throw new TypeError(`column "${name}" is null in a row, and its integer type has no nullAs`);
    return nullAs;
  }
  if (value instanceof Date) return value.getTime();
  return Number(value);
}

/** One batch's values of one column, as the Arrow type asks. */
function convert(name: string, type: ArrowColumnType, nullAs: number | undefined, rows: readonly Record<string, unknown>[]): ColumnValues {
  const n = rows.length;
  switch (type) {
    case 'utf8':
      return rows.map((row) => {
        const value = row[name];
        if (value === null || value === undefined) return null;
        if (typeof value === 'string') return value;
        if (value instanceof Date) return value.toISOString();
        if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
        return JSON.stringify(value); // json and arrays
      });
    case 'bool':
      return rows.map((row) => {
        const value = row[name];
        if (value === null || value === undefined) return null;
        if (typeof value !== 'boolean') throw new TypeError(`column "${name}" is declared bool but a row has ${typeof value} ${JSON.stringify(value)}`);
        return value;
      });
    case 'float64':
    case 'float32': {
      const out = type === 'float64' ? new Float64Array(n) : new Float32Array(n);
      const missing = nullAs ?? Number.NaN;
      for (let i = 0; i < n; i++) out[i] = toNumber(name, rows[i]![name], missing);
      return out;
    }
    case 'int32':
    case 'uint32': {
      const out = type === 'int32' ? new Int32Array(n) : new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = toNumber(name, rows[i]![name], nullAs);
      return out;
    }
  }
}

/**
 * Runs `query` and writes its rows to `file` as Arrow, batch by batch (see `cursorBatches`).
 * A query with no rows writes a file with no batches. On failure nothing is left at `file`
 * (a file already there stays as it was).
 */
export async function sqlToArrow(options: SqlToArrowOptions): Promise<SqlToArrowResult> {
  const columns = Object.entries(options.columns).map(([name, column]) => columnOf(name, column));
  if (columns.length === 0) throw new Error('sqlToArrow needs at least one column');
  const writer = await ArrowFileWriter.create(options.file);
  try {
    for await (const rows of cursorBatches<Record<string, unknown>>(options.pool, options.query, options.values, options)) {
      const absent = columns.find((c) => !(c.name in rows[0]!));
      if (absent) throw new Error(`sqlToArrow: the query returns no column "${absent.name}" (it returns ${Object.keys(rows[0]!).join(', ')})`);
      await writer.writeTable(
        new Table(Object.fromEntries(columns.map((c) => [c.name, columnVector(convert(c.name, c.type, c.nullAs, rows), c.type === 'bool' ? 'bool' : 'utf8')]))),
      );
    }
  } catch (error) {
    await writer.discard();
    throw error;
  }
  await writer.close();
  return { file: options.file, rows: writer.rows };
}

/** `sqlToArrowTask`'s options: the task's own (id, upstream, doc, retries, pool, …) and the query's. */
export interface SqlToArrowTaskOptions<TId extends string, TUpstream extends readonly AnyTaskHandle[]> extends TaskDefaults, Pick<CursorOptions, 'fetchSize'> {
  taskId: TId;
  upstream?: TUpstream;
  /** Shown in the UI. @defaultValue 'Runs a query and writes its rows to an Arrow file.' */
  doc?: string;
  query: string;
  /** The placeholders' values for this run, e.g. `(ctx) => [ctx.dataInterval.start, ctx.dataInterval.end]`. @defaultValue no values */
  values?: (ctx: TaskContext<TUpstream>) => readonly unknown[] | Promise<readonly unknown[]>;
  columns: Record<string, ArrowColumn>;
  /**
   * Where this run's file goes, given the context and `ARTIFACTS_DIR`.
   * @defaultValue `<ARTIFACTS_DIR>/<dagId>/runs/<runId>/<taskId>.arrow` (the run id with characters other than letters, digits, `_`, `.`, `-` replaced by `_`)
   */
  file?: (ctx: TaskContext<TUpstream>, artifactsDir: string) => string;
}

/**
 * A task that runs a query for its run and writes the rows to an Arrow file (connections from
 * `DATABASE_URL`); its output is `{ file, rows }`, so a downstream task reads the file.
 *
 * ```ts
 * const members = sqlToArrowTask({
 *   taskId: 'snapshot_members',
 *   query: `select member_id, (extract(epoch from signup_at) * 1000)::float8 as signup_at from source.member where signup_at < $1`,
 *   values: (ctx) => [ctx.dataInterval.end],
 *   columns: { member_id: 'utf8', signup_at: 'float64' },
 * });
 * task({ taskId: 'count', upstream: [members], run: async (ctx) => (await ctx.upstream(members)).rows });
 * ```
 */
export function sqlToArrowTask<const TId extends string, const TUpstream extends readonly AnyTaskHandle[] = []>(
  options: SqlToArrowTaskOptions<TId, TUpstream>,
): TaskHandle<TId, SqlToArrowResult> {
  // What is left after the query's own options are the task's (retries, pool, …).
  const { taskId, upstream, doc, query, values: valuesOf, columns, file: fileOf, fetchSize, ...taskOptions } = options;
  return task({
    ...taskOptions,
    taskId,
    upstream,
    doc: doc ?? 'Runs a query and writes its rows to an Arrow file.',
    run: (ctx: TaskContext<TUpstream>): Promise<SqlToArrowResult> =>
      withConnections(async ({ config, pool }) => {
        const file = fileOf?.(ctx, config.artifactsDir) ?? path.join(runArtifactDir(config.artifactsDir, ctx.dagId, ctx.runId), `${taskId}.arrow`);
        const values = (await valuesOf?.(ctx)) ?? [];
        const result = await sqlToArrow({ pool, query, values, columns, file, fetchSize, signal: ctx.signal });
        ctx.log(`${result.rows} rows → ${result.file}`);
        return result;
      }),
  });
}
