import { createHash } from 'node:crypto';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Queryable } from './client.ts';
import { keyLookupClient } from './transaction.ts';

/** Compiles drizzle `sql` templates to text and parameters, as the database handle does. */
const dialect = new PgDialect();
const names = new Map<string, string>();

/** A statement as pg's named-statement QueryConfig: the name is a hash of the text, so every variant gets its own. */
export function namedStatement(query: SQL): { name: string; text: string; values: unknown[] } {
  const { sql: text, params } = dialect.sqlToQuery(query);
  let name = names.get(text);
  if (!name) {
    name = `fw_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return { name, text, values: params };
}

/**
 * Inside a transaction opened with `lockDags` (see `inTransaction`), runs `query` as a named
 * prepared statement on that transaction's pg client (pg's own `{ name, text, values }`
 * QueryConfig): PostgreSQL parses and plans it once per connection, with a generic plan, not on
 * every call (planning these statements costs as much as running them). Anywhere else it is a
 * plain `execute`, planned for the tables as they are now: a cached plan made while a table was
 * small would scan it whole once it is big, and nothing replans it where autovacuum never runs
 * ANALYZE. test/integration/sched-transactions.test.ts checks which path is taken.
 *
 * Rows come from pg's type parsers on the first path and drizzle's on the second: they agree on
 * everything but timestamp, date and interval columns (a Date, or drizzle's string), so select
 * none of those here.
 */
export async function executeNamed<T extends Record<string, unknown>>(tx: Queryable, query: SQL): Promise<{ rows: T[] }> {
  const client = keyLookupClient(tx);
  const { rows } = client ? await client.query(namedStatement(query)) : await tx.execute(query);
  return { rows: rows as T[] };
}
