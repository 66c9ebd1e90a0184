/**
 * DEFAULT_POOL_NAMES (what `flywheel dags check` accepts without a database) is the list of pools
 * migration 0001 creates: read off the SQL, so adding a default pool to one and not the other fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POOL_NAMES } from '../../core/pools.ts';

const MIGRATION = new URL('../../core/db/migrations/0001_default_pools.sql', import.meta.url);

/** The names in `INSERT INTO "pool" ("name", …) VALUES ('a', …), ('b', …)`: the first value of each tuple. */
function insertedPoolNames(sql: string): string[] {
  const insert = /INSERT INTO "pool"\s*\(\s*"name"[^)]*\)\s*VALUES([\s\S]*?)(?:ON CONFLICT|;)/i.exec(sql);
  if (!insert) throw new Error('no INSERT INTO "pool" ("name", …) VALUES in the migration');
  return [...insert[1]!.matchAll(/\(\s*'((?:[^']|'')*)'/g)].map((match) => match[1]!.replaceAll("''", "'"));
}

describe('DEFAULT_POOL_NAMES', () => {
  it('are the pools migration 0001 inserts, in its order', () => {
    expect(insertedPoolNames(readFileSync(MIGRATION, 'utf8'))).toEqual([...DEFAULT_POOL_NAMES]);
  });

  it('the parser reads every tuple of a multi-row INSERT', () => {
    expect(insertedPoolNames(`INSERT INTO "pool" ("name", "slots") VALUES\n  ('a', 1),\n  ('it''s', 2)\nON CONFLICT ("name") DO NOTHING;`)).toEqual(['a', "it's"]);
  });
});
