/**
 * Publishing picks against a real PostgreSQL and Redis: the table swap seen by concurrent
 * readers (SQL and the picks reader), idempotence, recovery from a crash mid-load, refusal to
 * re-publish a superseded run, and rollback (table and cache pointer).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseConnection } from '../../core/db/client.ts';
import { PicksCacheKeys } from '../../daily-picks/picks-cache.ts';
import { readPicksByMember, readPicksDictionary } from '../../daily-picks/picks-file.ts';
import { PicksReader } from '../../daily-picks/picks-reader.ts';
import { currentPublication, publishPicks, PublishError, rollbackPicks } from '../../daily-picks/publish.ts';
import type { RowsResult } from '../../daily-picks/steps.ts';
import { seedSource } from '../../daily-picks/source/seed.ts';
import { day, PicksWorld, runSteps, stepContext } from '../support/picks.ts';
import { Children, parseJson, runCli } from './proc-support.ts';

const UNTIL = day('2026-05-01');
const INTERVAL = { start: day('2026-04-30'), end: UNTIL };

interface RunSet {
  runId: string;
  rows: RowsResult;
  /** member → its number of picks in this run. */
  counts: Map<string, number>;
  total: number;
}

describe('publish', { timeout: 120_000 }, () => {
  let world: PicksWorld;
  let readers: DatabaseConnection;
  const children = new Children();
  const sets: Record<string, RunSet> = {};
  const keys = () => new PicksCacheKeys(world.prefix);
  const publish = (set: RunSet) =>
    publishPicks(world.db, world.pool, world.redis, { dagId: 'daily_picks', runId: set.runId, picksFile: set.rows.picksFile, dictionaryFile: set.rows.dictionaryFile, cachePrefix: world.prefix });
  const picksFingerprint = async () =>
    (await world.query<{ run: string; n: number; md5: string }>(`select min(run_id) || '/' || max(run_id) as run, count(*)::int as n, md5(string_agg(p::text, ',' order by member_id, row, position)) as md5 from picks p`))[0]!;
  const publications = () => world.query<{ id: number; run_id: string; status: string }>('select id, run_id, status from picks_publication order by id');

  /**
   * Runs `during` while three SQL readers (`select run_id, count(*) … group by run_id`) and two
   * PicksReaders loop over `watched` members; every read must be one run's complete set.
   */
  async function watchReaders<T>(watched: string[], during: () => Promise<T>) {
    const byRunId = Object.fromEntries(Object.values(sets).map((s) => [s.runId, s]));
    const generatedAtToRun = new Map(Object.values(sets).map((s) => [s.rows.generatedAt, s]));
    const sqlSeen = new Set<string>();
    const cacheSeen = new Set<string>();
    const problems: string[] = [];
    let stop = false;
    let reads = 0;
    const sqlReader = async (r: number) => {
      while (!stop) {
        const member = watched[(reads + r) % watched.length]!;
        const result = await readers.pool.query<{ run_id: string; n: number }>('select run_id, count(*)::int as n from picks where member_id = $1 group by run_id', [member]);
        reads += 1;
        if (result.rows.length !== 1) {
          problems.push(`${member}: ${JSON.stringify(result.rows)}`);
          continue;
        }
        const { run_id, n } = result.rows[0]!;
        const expected = byRunId[run_id]?.counts.get(member);
        if (n !== expected) problems.push(`${member}: ${n} picks of ${run_id}, expected ${expected}`);
        sqlSeen.add(run_id);
      }
    };
    const cacheReader = async (r: number) => {
      const reader = new PicksReader({ db: readers.db, redis: world.redis, cachePrefix: world.prefix, refreshMs: 0 });
      while (!stop) {
        const member = watched[(reads + r) % watched.length]!;
        const view = await reader.get(member);
        reads += 1;
        const set = generatedAtToRun.get(view.generatedAt ?? '');
        const n = view.rows.reduce((sum, row) => sum + row.picks.length, 0);
        if (!set || n !== set.counts.get(member) || !['cache', 'database'].includes(view.source)) problems.push(`reader ${member}: ${view.source} ${view.generatedAt} ${n} picks`);
        else cacheSeen.add(set.runId);
      }
    };
    const running = [0, 1, 2].map(sqlReader).concat([3, 4].map(cacheReader));
    const until = async (what: string, done: () => boolean) => {
      const deadline = Date.now() + 20_000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`readers: timed out waiting for ${what} (${reads} reads)`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    try {
      // Both kinds of reader have read the set before; a loaded machine may take a while to start them.
      await until('first reads', () => sqlSeen.size > 0 && cacheSeen.size > 0);
      const results = await during();
      // And keep reading for a while after.
      const after = reads + 40;
      await until('reads after', () => reads >= after);
      return { problems, sqlSeen, cacheSeen, reads, results };
    } finally {
      stop = true;
      await Promise.all(running);
    }
  }

  beforeAll(async () => {
    world = await PicksWorld.create();
    readers = connectDatabase(world.databaseUrl, 6);
    await seedSource(world.pool, { members: 300, classes: 90, days: 40, seed: 11, until: UNTIL });
    // Three runs of different content: a different ranked length each, so every member's pick count tells the runs apart.
    for (const [runId, rankedSize] of [['A', 20], ['B', 35], ['C', 12], ['D', 25]] as const) {
      const { rows } = await runSteps(world, stepContext(`run_${runId}`, INTERVAL, { rankedSize, rowSize: 6 }), { publish: false });
      const counts = new Map<string, number>();
      const dictionary = await readPicksDictionary(rows.dictionaryFile);
      for await (const group of readPicksByMember(rows.picksFile, dictionary)) {
        for (const member of group) counts.set(member.memberId, member.rows.reduce((n, r) => n + r.picks.length, 0));
      }
      sets[runId] = { runId: `run_${runId}`, rows, counts, total: rows.picks };
    }
  });
  afterAll(async () => {
    await children.killAll();
    await readers?.close();
    await world?.close();
  });

  it('the runs differ, member by member', () => {
    expect(sets.A!.counts.size).toBe(300);
    const member = [...sets.A!.counts.keys()].find((m) => new Set(['A', 'B', 'C'].map((r) => sets[r]!.counts.get(m))).size === 3);
    expect(member).toBeDefined();
  });

  it('concurrent readers see exactly one run\'s complete set, never a mix or a partial set, while B and C are swapped in', async () => {
    const first = await publish(sets.A!);
    expect(first).toMatchObject({ published: true, members: 300, picks: sets.A!.total });
    // Members whose pick counts differ between every pair of runs: each read names its run twice (run_id and count).
    const watched = [...sets.A!.counts.keys()].filter((m) => new Set(['A', 'B', 'C'].map((r) => sets[r]!.counts.get(m))).size === 3).slice(0, 8);
    expect(watched.length).toBeGreaterThan(3);
    const { problems, sqlSeen, cacheSeen, reads, results } = await watchReaders(watched, async () => {
      const b = await publish(sets.B!);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const c = await publish(sets.C!);
      return [b, c];
    });
    const [b, c] = results;
    expect(problems).toEqual([]);
    expect(b!.published && c!.published).toBe(true);
    expect(reads).toBeGreaterThan(50);
    // The readers saw the swaps happen (A before, C after), so the check above covered them.
    expect(sqlSeen.has('run_A') && sqlSeen.has('run_C')).toBe(true);
    expect(cacheSeen.has('run_A') && cacheSeen.has('run_C')).toBe(true);
    const fp = await picksFingerprint();
    expect(fp).toMatchObject({ run: 'run_C/run_C', n: sets.C!.total });
    const status = (await publications()).map((p) => `${p.run_id}:${p.status}`);
    expect(status).toEqual(['run_A:retired', 'run_B:previous', 'run_C:current']);
    // picks_previous holds B; A's cache is gone, B's kept for rollback.
    expect((await world.query<{ run_id: string; n: number }>('select run_id, count(*)::int as n from picks_previous group by run_id'))).toEqual([{ run_id: 'run_B', n: sets.B!.total }]);
    const [pa, pb, pc] = await publications();
    expect(await world.redis.exists(keys().members(pa!.id), keys().meta(pa!.id))).toBe(0);
    expect(await world.redis.exists(keys().members(pb!.id))).toBe(1);
    expect(await world.redis.get(keys().current)).toBe(String(pc!.id));
    expect(await world.redis.hlen(keys().members(pc!.id))).toBe(300);
  });

  it('publishing the current run again changes nothing (published: false) and restores a lost cache pointer', async () => {
    const before = await picksFingerprint();
    await world.redis.del(keys().current);
    const again = await publish(sets.C!);
    expect(again).toMatchObject({ published: false, members: 300, picks: sets.C!.total });
    expect(await picksFingerprint()).toEqual(before);
    expect((await publications()).filter((p) => p.run_id === 'run_C')).toHaveLength(1);
    expect(await world.redis.get(keys().current)).toBe(String(again.publicationId));
  });

  it('refuses to publish a superseded run (previous or retired) and changes nothing', async () => {
    const before = await picksFingerprint();
    for (const set of [sets.A!, sets.B!]) {
      const error = await publish(set).catch((e: unknown) => e);
      expect(error, set.runId).toBeInstanceOf(PublishError);
      expect((error as Error).message).toMatch(/replaced/);
    }
    expect(await picksFingerprint()).toEqual(before);
    expect((await publications()).map((p) => p.status)).toEqual(['retired', 'previous', 'current']);
  });

  it('rollback swaps the previous set back (table, publication, cache pointer); a second rollback restores', async () => {
    const reader = new PicksReader({ db: world.db, redis: world.redis, cachePrefix: world.prefix, refreshMs: 0 });
    const member = [...sets.B!.counts.keys()].find((m) => sets.B!.counts.get(m) !== sets.C!.counts.get(m))!;
    const count = async () => (await reader.get(member)).rows.reduce((n, r) => n + r.picks.length, 0);
    const [, pb, pc] = await publications();
    const rolled = await rollbackPicks(world.db, world.pool, world.redis, world.prefix);
    expect(rolled.current).toMatchObject({ publicationId: pb!.id, runId: 'run_B' });
    expect(rolled.previous).toMatchObject({ publicationId: pc!.id, runId: 'run_C' });
    expect(await picksFingerprint()).toMatchObject({ run: 'run_B/run_B', n: sets.B!.total });
    expect((await world.query<{ run_id: string }>('select distinct run_id from picks_previous'))).toEqual([{ run_id: 'run_C' }]);
    expect(await world.redis.get(keys().current)).toBe(String(pb!.id));
    expect((await currentPublication(world.db))?.runId).toBe('run_B');
    expect((await reader.get(member)).source).toBe('cache');
    expect(await count()).toBe(sets.B!.counts.get(member));

    const back = await rollbackPicks(world.db, world.pool, world.redis, world.prefix);
    expect(back.current.runId).toBe('run_C');
    expect(await picksFingerprint()).toMatchObject({ run: 'run_C/run_C', n: sets.C!.total });
    expect(await world.redis.get(keys().current)).toBe(String(pc!.id));
    expect(await count()).toBe(sets.C!.counts.get(member));
  });

  it('rollback to a set whose cache Redis lost serves it from PostgreSQL', async () => {
    const [, pb] = await publications();
    await world.redis.del(keys().members(pb!.id));
    await rollbackPicks(world.db, world.pool, world.redis, world.prefix);
    expect(await world.redis.get(keys().current)).toBeNull();
    const reader = new PicksReader({ db: world.db, redis: world.redis, cachePrefix: world.prefix, refreshMs: 0 });
    const member = [...sets.B!.counts.keys()][0]!;
    const view = await reader.get(member);
    expect(view.source).toBe('database');
    expect(view.rows.reduce((n, r) => n + r.picks.length, 0)).toBe(sets.B!.counts.get(member));
    // Back to C (its cache is still there).
    await rollbackPicks(world.db, world.pool, world.redis, world.prefix);
    expect((await currentPublication(world.db))?.runId).toBe('run_C');
  });

  it('a publish that crashed mid-load (staged publication, leftover staging table) is retried cleanly', async () => {
    // What a crash after the staging load and before the swap leaves behind.
    const [staged] = await world.query<{ id: number }>(
      `insert into picks_publication (dag_id, run_id, model_version, generated_at, status, member_count, pick_count) values ('daily_picks', 'run_D', 'heuristics', now(), 'staged', 0, 0) returning id`,
    );
    await world.pool.query(`create table picks_set_${staged!.id} as select * from picks limit 0`);
    await world.pool.query(`insert into picks_set_${staged!.id} select member_id, row, position, class_id, score, 'half-written', model_version, 'run_D', generated_at from picks limit 50`);
    await world.redis.hset(keys().members(staged!.id), 'stale-member', '{}');
    // Readers still see C.
    expect((await picksFingerprint()).run).toBe('run_C/run_C');

    const retried = await publish(sets.D!);
    expect(retried).toMatchObject({ publicationId: staged!.id, published: true, members: 300, picks: sets.D!.total });
    expect(await picksFingerprint()).toMatchObject({ run: 'run_D/run_D', n: sets.D!.total });
    expect((await world.query<{ n: number }>(`select count(*)::int as n from picks where reason = 'half-written'`))[0]!.n).toBe(0);
    // Only the two sets the views show are left: D's (current) and C's (previous).
    const tables = await world.query<{ tablename: string }>(`select tablename from pg_tables where tablename like 'picks_set_%' order by 1`);
    const [c] = await world.query<{ id: number }>(`select id from picks_publication where run_id = 'run_C'`);
    expect(tables.map((t) => t.tablename).sort()).toEqual([`picks_set_${c!.id}`, `picks_set_${staged!.id}`].sort());
    expect(await world.redis.hexists(keys().members(staged!.id), 'stale-member')).toBe(0);
    expect(await world.redis.hlen(keys().members(staged!.id))).toBe(300);
    expect((await publications()).map((p) => `${p.run_id}:${p.status}`)).toEqual(['run_A:retired', 'run_B:retired', 'run_C:previous', 'run_D:current']);
  });

  it('flywheel picks rollback --json swaps and reports both sets; status --json names the current one', async () => {
    const env = world.childEnv();
    const first = await runCli(children, ['picks', 'rollback', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(parseJson(first)).toMatchObject({ current: { runId: 'run_C' }, previous: { runId: 'run_D' } });
    expect((await picksFingerprint()).run).toBe('run_C/run_C');
    const second = await runCli(children, ['picks', 'rollback'], env);
    expect(second.stdout).toMatch(/^now serving publication \d+ \(run run_D, heuristics\); publication \d+ \(run run_C\) is kept as previous\n$/);
    expect(parseJson(await runCli(children, ['picks', 'status', '--json'], env))).toMatchObject({ runId: 'run_D', members: 300, picks: sets.D!.total });
    // Each rollback is a write: both are in the audit log, naming the CLI user.
    const audit = await world.query<{ actor: string; action: string; details: { current: { runId: string } } }>(
      `select actor, action, details from audit_log where action = 'picks.rollback' order by id`,
    );
    expect(audit.map((a) => [a.action, a.details.current.runId])).toEqual([
      ['picks.rollback', 'run_C'],
      ['picks.rollback', 'run_D'],
    ]);
    expect(audit.every((a) => a.actor.startsWith('cli:'))).toBe(true);
  });

  it('rollback with nothing to roll back to is refused', async () => {
    await world.pool.query(`update picks_publication set status = 'retired' where status = 'previous'`);
    await expect(rollbackPicks(world.db, world.pool, world.redis, world.prefix)).rejects.toBeInstanceOf(PublishError);
    expect((await picksFingerprint()).run).toBe('run_D/run_D');
  });

  it('control: the readers do catch a non-atomic replace (delete, then insert, member by member)', async () => {
    // picks holds D, picks_previous C. Replace the watched members' rows the naive way.
    const watched = [...sets.C!.counts.keys()].filter((m) => sets.C!.counts.get(m) !== sets.D!.counts.get(m)).slice(0, 6);
    const { problems } = await watchReaders(watched, async () => {
      for (let round = 0; round < 3; round++) {
        for (const member of watched) {
          // C's rows (picks_previous) replace whatever the member has, in two autocommitted statements.
          await world.pool.query('delete from picks where member_id = $1', [member]);
          await new Promise((resolve) => setTimeout(resolve, 5));
          await world.pool.query('insert into picks select * from picks_previous where member_id = $1', [member]);
        }
      }
      return null;
    });
    expect(problems.length).toBeGreaterThan(0);
  });
});
