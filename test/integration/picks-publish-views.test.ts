/**
 * `picks` is a view repointed by each publish, so what product engineers build on it survives
 * publishes and rollbacks: a role's grant on `picks` and their own views over it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PicksFileWriter } from '../../daily-picks/picks-file.ts';
import { publishPicks, rollbackPicks } from '../../daily-picks/publish.ts';
import { PicksWorld } from '../support/picks.ts';

describe('grants and views on picks survive publishes', { timeout: 60_000 }, () => {
  let world: PicksWorld;
  const role = `picks_reader_${randomUUID().slice(0, 8)}`;

  async function publish(runId: string) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'flywheel-views-'));
    const files = { picksFile: path.join(dir, 'picks.arrow'), dictionaryFile: path.join(dir, 'picks.json') };
    const writer = await PicksFileWriter.create(files.picksFile, files.dictionaryFile, ['c1', 'c2']);
    await writer.add('m1', 'heuristics', 'heuristics', [{ row: 'ranked', picks: [{ classIdx: 0, score: 0.5, reason: 'r' }] }]);
    await writer.close({ generatedAt: new Date(), runId, popularRows: [] });
    return publishPicks(world.db, world.pool, world.redis, { dagId: 'daily_picks', runId, ...files, cachePrefix: world.prefix });
  }
  const grantedTo = async () =>
    (await world.query<{ granted: boolean }>(`select has_table_privilege($1, 'picks', 'select') as granted`, [role]))[0]!.granted;
  const viewRun = async () => (await world.query<{ run_id: string }>('select distinct run_id from product_picks'))[0]?.run_id;

  beforeAll(async () => {
    world = await PicksWorld.create();
    await publish('run-1');
    await world.query(`create role ${role} nologin`);
    await world.query(`grant select on picks to ${role}`);
    await world.query(`create view product_picks as select member_id, class_id, run_id from picks where row = 'ranked'`);
  });
  afterAll(async () => {
    await world?.query('drop view if exists product_picks').catch(() => undefined);
    await world?.query(`drop owned by ${role}`).catch(() => undefined);
    await world?.query(`drop role if exists ${role}`).catch(() => undefined);
    await world?.close();
  });

  it('after two publishes and a rollback the grant is still there and the view shows the served set', async () => {
    expect(await grantedTo()).toBe(true);
    expect(await viewRun()).toBe('run-1');
    await publish('run-2');
    expect(await viewRun()).toBe('run-2');
    await publish('run-3');
    expect(await viewRun()).toBe('run-3');
    expect(await grantedTo()).toBe(true);
    await rollbackPicks(world.db, world.pool, world.redis, world.prefix);
    expect(await viewRun()).toBe('run-2');
    expect(await grantedTo()).toBe(true);
    // One table per kept set: run-1's went when run-3 was published.
    const tables = await world.query<{ tablename: string }>(`select tablename from pg_tables where tablename like 'picks_set_%'`);
    expect(tables.length).toBe(2);
  });
});
