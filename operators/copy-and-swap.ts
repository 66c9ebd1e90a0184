/**
 * COPY and swap: publish a whole new set of rows behind a view, atomically. The rows are COPYed
 * into a fresh table of their own and indexed while readers keep reading the old set; then, in
 * one short transaction holding both views exclusively, the view is repointed at the new table
 * and a second view at the set it replaced (kept for rollback), and the set before that is
 * dropped. A reader's query sees the old set or the new one, never a mix or a half-loaded set;
 * grants on the view and views built on it survive every swap.
 *
 * ```ts
 * await withAdvisoryLock(pool, 'sales_publish', (client) =>
 *   copyAndSwap(client, {
 *     view: 'sales', previousView: 'sales_previous', table: `sales_set_${batchId}`,
 *     columns: [['day', 'date not null'], ['store', 'text not null'], ['amount', 'double precision not null']],
 *     primaryKey: ['day', 'store'],
 *     rows: batchesOfRows(), // AsyncIterable<[day, store, amount][]>
 *   }),
 * );
 * ```
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { inClientTransaction } from '../core/db/transaction.ts';

/** A value COPY can take: text is escaped, numbers as JavaScript prints them, a `Date` as ISO 8601, null as NULL. */
export type CopyValue = string | number | bigint | boolean | Date | null;

/** One row: a value per column, in the columns' order. */
export type CopyRow = readonly CopyValue[];

/** A column of the new table: its name and its SQL type with constraints, e.g. `['score', 'double precision not null']`. */
export type TableColumn = readonly [name: string, type: string];

export class CopyAndSwapError extends Error {
  override readonly name = 'CopyAndSwapError';
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** A table, view or column name used in SQL text: plain identifiers only (optionally schema-qualified). */
function identifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name)) throw new CopyAndSwapError(`${what} "${name}" is not a plain SQL identifier (letters, digits, _; optionally schema.name)`);
  return name;
}

/**
 * Runs `work` holding a session-level advisory lock, so publishes (and rollbacks) of the same
 * views from different processes run one at a time. `key` is the lock's number, or a name
 * (hashed by PostgreSQL's `hashtext`).
 */
export async function withAdvisoryLock<T>(pool: pg.Pool, key: number | string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const lockArgument = typeof key === 'number' ? '$1' : 'hashtext($1)';
  const client = await pool.connect();
  try {
    await client.query(`select pg_advisory_lock(${lockArgument})`, [key]);
    try {
      return await work(client);
    } finally {
      await client.query(`select pg_advisory_unlock(${lockArgument})`, [key]);
    }
  } finally {
    client.release();
  }
}

/** A value in COPY's text format: backslash, tab, newline and carriage return escaped. */
export function escapeCopyText(value: string): string {
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : value;
}

function copyValue(value: CopyValue): string {
  if (value === null) return '\\N';
  if (typeof value === 'string') return escapeCopyText(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'boolean') return value ? 't' : 'f';
  return String(value);
}

/** Rows as COPY text: one line each, values separated by tabs. */
export function copyText(rows: Iterable<CopyRow>): string {
  let text = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) text += i === 0 ? copyValue(row[i]!) : `\t${copyValue(row[i]!)}`;
    text += '\n';
  }
  return text;
}

/**
 * COPYs batches of rows into `table` (COPY … FROM STDIN, text format), one write per batch,
 * with backpressure: a batch is produced only when the last one has been sent. Returns the rows copied.
 */
export async function copyRows(client: pg.PoolClient, table: string, columns: readonly string[], batches: AsyncIterable<Iterable<CopyRow>> | Iterable<Iterable<CopyRow>>): Promise<number> {
  let rows = 0;
  async function* text(): AsyncGenerator<string> {
    for await (const batch of batches) {
      const chunk = copyText(countRows(batch));
      if (chunk.length > 0) yield chunk;
    }
  }
  function* countRows(batch: Iterable<CopyRow>): Generator<CopyRow> {
    for (const row of batch) {
      if (row.length !== columns.length) throw new CopyAndSwapError(`a row has ${row.length} values for ${columns.length} columns (${columns.join(', ')})`);
      rows += 1;
      yield row;
    }
  }
  const names = columns.map((c) => identifier(c, 'column')).join(', ');
  await pipeline(Readable.from(text()), client.query(copyFrom(`copy ${identifier(table, 'table')} (${names}) from stdin`)));
  return rows;
}

/** The table a view reads (it must read exactly one): its OID and its name as SQL text. */
export async function viewTable(client: pg.PoolClient, view: string): Promise<{ oid: number; name: string }> {
  const result = await client.query<{ oid: number; name: string }>(
    `select distinct c.oid::int8 as oid, c.oid::regclass::text as name from pg_rewrite r
     join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
     join pg_class c on c.oid = d.refobjid and c.relkind = 'r'
     where r.ev_class = $1::regclass`,
    [identifier(view, 'view')],
  );
  if (result.rows.length !== 1) throw new CopyAndSwapError(`view ${view} should read exactly one table, it reads ${result.rows.length}`);
  return { oid: Number(result.rows[0]!.oid), name: result.rows[0]!.name };
}

/** The two views a swap repoints: `view` shows the current set, `previousView` the one it replaced. */
export interface SwapViews {
  /** The view readers query (created over the new table on the first swap). */
  view: string;
  /** The view over the set `view` showed before the last swap (created on the first swap, over the same table). */
  previousView: string;
  /**
   * Runs inside the swap's transaction, after the views are repointed: bookkeeping that must
   * commit with the swap (a publication's status, say). Keep it short: readers wait meanwhile.
   */
  onSwap?: (client: pg.PoolClient) => Promise<void>;
}

export interface SwapResult {
  /** The table `view` read before (now read by `previousView`); null on the first swap. */
  replaced: string | null;
  /** The table `previousView` read before, now dropped; null when none was. */
  dropped: string | null;
}

/** Runs `work` in one transaction holding both views (and so their tables' readers) in ACCESS EXCLUSIVE mode. */
async function swapTransaction<T>(client: pg.PoolClient, views: SwapViews, work: () => Promise<T>): Promise<T> {
  return inClientTransaction(client, async () => {
    await client.query(`lock table ${identifier(views.view, 'view')}, ${identifier(views.previousView, 'view')} in access exclusive mode`);
    const result = await work();
    await views.onSwap?.(client);
    return result;
  });
}

/**
 * Points `view` at `table` and `previousView` at the table `view` read, dropping the table
 * `previousView` read (unless it is one of those two), in one short transaction. The first
 * time, when the views do not exist yet, creates both over `table`.
 */
export async function swapIn(client: pg.PoolClient, table: string, views: SwapViews): Promise<SwapResult> {
  const view = identifier(views.view, 'view');
  const previousView = identifier(views.previousView, 'view');
  identifier(table, 'table');
  const existing = (
    await client.query<{ view: string | null; previous: string | null; incoming: number }>(
      'select to_regclass($1)::text as view, to_regclass($2)::text as previous, $3::regclass::oid::int8 as incoming',
      [view, previousView, table],
    )
  ).rows[0]!;
  if (existing.view === null || existing.previous === null) {
    if (existing.view !== null || existing.previous !== null) {
      throw new CopyAndSwapError(`only one of ${view} and ${previousView} exists: create both (or neither, and the first swap creates them)`);
    }
    await inClientTransaction(client, async () => {
      await client.query(`create view ${view} as select * from ${table}`);
      await client.query(`create view ${previousView} as select * from ${table}`);
      await views.onSwap?.(client);
    });
    return { replaced: null, dropped: null };
  }
  const incoming = Number(existing.incoming);
  return swapTransaction(client, views, async () => {
    const current = await viewTable(client, view);
    const previous = await viewTable(client, previousView);
    await client.query(`create or replace view ${view} as select * from ${table}`);
    await client.query(`create or replace view ${previousView} as select * from ${current.name}`);
    const drop = previous.oid !== current.oid && previous.oid !== incoming;
    if (drop) await client.query(`drop table ${previous.name}`);
    return { replaced: current.name, dropped: drop ? previous.name : null };
  });
}

/** Exchanges what `view` and `previousView` show (a rollback; a second one undoes it), in one short transaction. */
export async function swapBack(client: pg.PoolClient, views: SwapViews): Promise<{ current: string; previous: string }> {
  return swapTransaction(client, views, async () => {
    const current = await viewTable(client, views.view);
    const previous = await viewTable(client, views.previousView);
    await client.query(`create or replace view ${views.view} as select * from ${previous.name}`);
    await client.query(`create or replace view ${views.previousView} as select * from ${current.name}`);
    return { current: previous.name, previous: current.name };
  });
}

export interface CopyAndSwapOptions extends SwapViews {
  /** The new set's own table: dropped first if it exists (a retried load starts over), then created. */
  table: string;
  /**
   * The table's columns, in COPY order. To swap a view over tables made elsewhere (a migration),
   * give the same columns in the same order: `create or replace view` cannot drop or reorder them.
   */
  columns: readonly TableColumn[];
  /** The rows, in batches (one COPY write each). */
  rows: AsyncIterable<Iterable<CopyRow>> | Iterable<Iterable<CopyRow>>;
  /** Columns of the table's primary key, added after the load (faster than while loading). @defaultValue none */
  primaryKey?: readonly string[];
  /**
   * ANALYZE the table before the swap, so the planner knows the new set from the first query.
   * @defaultValue true
   */
  analyze?: boolean;
}

export interface CopyAndSwapResult extends SwapResult {
  rows: number;
  /** Seconds spent creating and loading the table, adding the key and analyzing, swapping. */
  seconds: { load: number; index: number; swap: number };
}

/**
 * Loads `rows` into a fresh `table`, adds its primary key, analyzes it, then swaps it in
 * (`swapIn`). Hold an advisory lock around it (`withAdvisoryLock`) when other processes may
 * publish to, or roll back, the same views.
 */
export async function copyAndSwap(client: pg.PoolClient, options: CopyAndSwapOptions): Promise<CopyAndSwapResult> {
  const table = identifier(options.table, 'table');
  const columns = options.columns.map(([name, type]) => `${identifier(name, 'column')} ${type}`);
  const t0 = performance.now();
  await client.query(`drop table if exists ${table}`);
  await client.query(`create table ${table} (\n    ${columns.join(', ')})`);
  const rows = await copyRows(
    client,
    table,
    options.columns.map(([name]) => name),
    options.rows,
  );
  const t1 = performance.now();
  if (options.primaryKey && options.primaryKey.length > 0) {
    const bareName = table.slice(table.lastIndexOf('.') + 1);
    await client.query(`alter table ${table} add constraint ${bareName}_pkey primary key (${options.primaryKey.map((c) => identifier(c, 'column')).join(', ')})`);
  }
  if (options.analyze ?? true) await client.query(`analyze ${table}`);
  const t2 = performance.now();
  const swapped = await swapIn(client, table, options);
  const t3 = performance.now();
  return { ...swapped, rows, seconds: { load: (t1 - t0) / 1000, index: (t2 - t1) / 1000, swap: (t3 - t2) / 1000 } };
}
