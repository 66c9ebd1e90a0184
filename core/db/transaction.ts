import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { Database, Queryable } from './client.ts';
import * as schema from './schema/index.ts';

/**
 * The one way Flywheel opens a transaction: {@link inTransaction}. It takes a client from the
 * pool, sends `begin` (with the DAG locks, when asked, in the same round trip), runs the work on
 * a drizzle handle bound to that client, commits, and tries again when PostgreSQL aborted the
 * transaction for a deadlock or a serialization failure.
 */

/** deadlock detected, serialization failure: the whole transaction may simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * Planner settings of a transaction opened with `lockDags` (a state-machine step). Every statement
 * of such a transaction touches a few rows by key. Its prepared statements use generic plans (no
 * planning per call), and the planner may use neither sequential scans nor hash or merge joins,
 * so a plan cached while the tables were small stays an index plan.
 */
const KEY_LOOKUP_SETTINGS = ['plan_cache_mode = force_generic_plan', 'enable_seqscan = off', 'enable_hashjoin = off', 'enable_mergejoin = off'];

export interface TransactionOptions {
  /**
   * Locks these `dag` rows first, in id order exactly as {@link lockDags} takes them; `begin`, the
   * planner settings above and the lock travel to PostgreSQL as one simple-protocol round trip (the
   * ids inlined as escaped literals). Such a transaction is a state-machine step, and
   * `executeNamed` runs its statements as named prepared statements (see core/db/named-statements.ts).
   */
  lockDags?: readonly string[];
  /**
   * Tries in all when PostgreSQL aborts the transaction for a deadlock or a serialization failure.
   * @defaultValue 5
   */
  attempts?: number;
}

/** A connection a transaction runs on. */
export type TransactionClient = pg.PoolClient | pg.Client;

/** A drizzle handle per pooled client, made once (pg's pool reuses its client objects). */
const handles = new WeakMap<pg.Pool | TransactionClient, Database>();
/** The open transaction of each handle: its client, and whether it was opened with `lockDags`. */
const open = new WeakMap<object, { client: TransactionClient; keyLookup: boolean }>();

/**
 * Runs `work` in a transaction and returns its result. `work` may run more than once (see
 * `attempts`): it must do nothing outside the database that it cannot do twice.
 */
export async function inTransaction<T>(db: Database, work: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const begin = options.lockDags ? beginLocked(options.lockDags) : 'begin';
  // `$client` is what `drizzle()` was given: the pool (connectDatabase), or one client.
  const source = (db as Database & { $client?: unknown }).$client;
  for (let attempt = 1; ; attempt += 1) {
    const pooled = source instanceof pg.Pool;
    const client = pooled ? await source.connect() : (source as pg.Client);
    const tx = pooled ? handleOf(client) : db;
    let broken: Error | undefined;
    try {
      await client.query(begin);
      open.set(tx, { client, keyLookup: options.lockDags !== undefined });
      try {
        const result = await work(tx);
        await client.query('commit');
        return result;
      } finally {
        open.delete(tx);
      }
    } catch (error) {
      await client.query('rollback').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      if (attempt >= attempts || !RETRYABLE.has(sqlStateOf(error) ?? '')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 10));
    } finally {
      // A client whose rollback failed is in an unknown state: the pool drops it.
      if (pooled) (client as pg.PoolClient).release(broken);
    }
  }
}

/**
 * {@link inTransaction} for work that speaks to pg directly (COPY through pg-copy-streams, a
 * client that holds a session-level lock): the same begin, commit, rollback and retry, on a
 * connection from `source` (a pool) or on `source` itself (one client).
 */
export function inClientTransaction<T>(source: pg.Pool | TransactionClient, work: (client: TransactionClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  return inTransaction(handleOf(source), (tx) => work(transactionClient(tx)!), options);
}

/**
 * Locks the `dag` rows in id order (no deadlocks) inside an open transaction; returns the ids it
 * locked (with `skipLocked`, those no other transaction holds).
 */
export async function lockDags(tx: Queryable, dagIds: readonly string[], options: { skipLocked?: boolean } = {}): Promise<string[]> {
  if (dagIds.length === 0) return [];
  const ids = [...new Set(dagIds)].sort();
  const result = await tx.execute<{ dag_id: string }>(
    options.skipLocked
      ? sql`select dag_id from dag where dag_id = any(${sql.param(ids)}::text[]) order by dag_id for update skip locked`
      : sql`select dag_id from dag where dag_id = any(${sql.param(ids)}::text[]) order by dag_id for update`,
  );
  return result.rows.map((row) => row.dag_id);
}

/**
 * The pg client of a transaction {@link inTransaction} opened, for what drizzle cannot do (COPY
 * through pg-copy-streams, a cursor); undefined outside one. Its statements are part of the
 * transaction: rolled back with it, and run again on a retry.
 */
export function transactionClient(tx: Queryable): TransactionClient | undefined {
  return open.get(tx)?.client;
}

/**
 * The pg client of `tx` while it runs a transaction opened with `lockDags`, else undefined: where
 * named prepared statements with generic plans are safe (see `executeNamed`).
 */
export function keyLookupClient(tx: Queryable): TransactionClient | undefined {
  const entry = open.get(tx);
  return entry?.keyLookup ? entry.client : undefined;
}

function beginLocked(dagIds: readonly string[]): string {
  const ids = [...new Set(dagIds)].sort();
  return [
    'begin',
    ...KEY_LOOKUP_SETTINGS.map((setting) => `set local ${setting}`),
    ...(ids.length === 0 ? [] : [`select dag_id from dag where dag_id in (${ids.map((id) => pg.escapeLiteral(id)).join(', ')}) order by dag_id for update`]),
  ].join('; ');
}

function handleOf(client: pg.Pool | TransactionClient): Database {
  let handle = handles.get(client);
  if (!handle) {
    handle = drizzle(client, { schema });
    handles.set(client, handle);
  }
  return handle;
}

/** The SQLSTATE of a PostgreSQL error, also when drizzle wrapped it (`cause`). */
function sqlStateOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}
