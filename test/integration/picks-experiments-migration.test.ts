/**
 * Migration 0012 and the picks sets published before it: a set has, since, the columns
 * `experiment_key` and `variant`. A view can gain columns (`create or replace view`) but never
 * lose them, so rolling back from a new set to an old one without them is refused by PostgreSQL;
 * the migration adds them to the old sets (and recreates the views), and rollback works both ways.
 */
import { readFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PicksFileWriter } from '../../daily-picks/picks-file.ts';
import { publishPicks, rollbackPicks } from '../../daily-picks/publish.ts';
import { PicksWorld } from '../support/picks.ts';

const MIGRATION = fileURLToPath(new URL('../../core/db/migrations/0012_picks_experiment_columns.sql', import.meta.url));
const LEGACY_COLUMNS = `member_id text not null, row text not null, position integer not null, class_id text not null, score double precision not null,
  reason text not null, model_version text not null, run_id text not null, generated_at timestamp with time zone not null`;

describe('picks sets from before experiments', { timeout: 60_000 }, () => {
  let world: PicksWorld;

  beforeAll(async () => {
    world = await PicksWorld.create();
    // The state before migration 0012: two published sets without the experiment columns.
    await world.query('drop view picks; drop view picks_previous');
    for (const [id, status] of [[901, 'previous'], [902, 'current']] as const) {
      await world.query(
        `insert into picks_publication (id, dag_id, run_id, model_version, generated_at, status, member_count, pick_count) values ($1, 'daily_picks', $2, 'heuristics', now(), $3, 1, 1)`,
        [id, `old-${id}`, status],
      );
      await world.query(`create table picks_set_${id} (${LEGACY_COLUMNS})`);
      await world.query(`insert into picks_set_${id} values ('m1', 'for_your_usual', 1, 'c1', 0.5, 'r', 'heuristics', $1, now())`, [`old-${id}`]);
    }
    await world.query('create view picks as select * from picks_set_902; create view picks_previous as select * from picks_set_901');
  });
  afterAll(async () => {
    await world?.close();
  });

  async function publish(runId: string) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'flywheel-migration-'));
    const files = { picksFile: path.join(dir, 'picks.arrow'), dictionaryFile: path.join(dir, 'picks.json') };
    const writer = await PicksFileWriter.create(files.picksFile, files.dictionaryFile, ['c1', 'c2']);
    await writer.add('m1', 'model', 'v1', [
      { row: 'for_your_usual', picks: [{ classIdx: 1, score: 0.7, reason: 'r' }], experiment: { key: 'ab', variant: 'model' } },
      { row: 'ranked', picks: [{ classIdx: 0, score: 0.5, reason: 'r' }] },
    ]);
    await writer.close({ generatedAt: new Date(), runId, popularRows: [] });
    return publishPicks(world.db, world.pool, world.redis, { dagId: 'daily_picks', runId, ...files, cachePrefix: world.prefix });
  }
  const served = () => world.query<{ run_id: string; row: string; experiment_key: string | null; variant: string | null }>('select run_id, row, experiment_key, variant from picks order by row');

  it('publishes over an old set, and after the migration rolls back to it and forth again', async () => {
    await publish('new');
    expect(await served()).toEqual([
      { run_id: 'new', row: 'for_your_usual', experiment_key: 'ab', variant: 'model' },
      { run_id: 'new', row: 'ranked', experiment_key: null, variant: null },
    ]);
    // Without the migration the old set cannot be shown again: the view would lose two columns.
    await expect(rollbackPicks(world.db, world.pool, world.redis, world.prefix)).rejects.toThrow(/cannot drop columns from view/);

    const sql = await readFile(MIGRATION, 'utf8');
    await world.query(sql);
    await world.query(sql); // idempotent
    const columns = await world.query<{ column_name: string }>(`select column_name from information_schema.columns where table_name = 'picks_set_902' order by ordinal_position`);
    expect(columns.map((c) => c.column_name).slice(-2)).toEqual(['experiment_key', 'variant']);

    await rollbackPicks(world.db, world.pool, world.redis, world.prefix);
    expect(await served()).toEqual([{ run_id: 'old-902', row: 'for_your_usual', experiment_key: null, variant: null }]);
    await rollbackPicks(world.db, world.pool, world.redis, world.prefix);
    expect((await served()).map((r) => [r.run_id, r.variant])).toEqual([['new', 'model'], ['new', null]]);
  });
});
