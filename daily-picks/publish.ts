
import type { Redis } from 'ioredis';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database } from '../core/db/client.ts';
import { picksPublications } from '../core/db/schema/picks.ts';
import { eq, and, inArray } from 'drizzle-orm';
import { PicksCacheKeys, type CachedMemberPicks, type CachedPublicationMeta } from './picks-cache.ts';
import { readPicksByMember, readPicksDictionary, type MemberPicks, type PicksDictionary } from './picks-file.ts';

/** Serialises publishes and rollbacks across processes (a session-level advisory lock). */
const PUBLISH_LOCK = 0x70696b73; // "piks"

export interface PublishRequest {
  dagId: string;
  runId: string;
  picksFile: string;
  dictionaryFile: string;
  /** Redis key prefix (the installation's queue prefix). */
  cachePrefix: string;
  log?: (message: string) => void;
}

export type PublishResult = {
  publicationId: number;
  /** False when this run's picks were already the published set (a retry or a rerun). */
  published: boolean;
  members: number;
  picks: number;
  modelVersion: string;
  seconds: { load: number; index: number; cache: number; swap: number };
};

export class PublishError extends Error {
  override readonly name = 'PublishError';
}

async function withPublishLock<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [PUBLISH_LOCK]);
    try {
      return await work(client);
    } finally {
      await client.query('select pg_advisory_unlock($1)', [PUBLISH_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** A value in COPY's text format: backslash, tab, newline and carriage return escaped. */
function escapeCopyText(value: string): string {
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : value;
}

/**
 * Runs view repoints and publication updates in one transaction holding both picks views
 * (and their tables) exclusively: readers queue behind the lock for the milliseconds of the
 * swap, then see the new set whole.
 */
async function swapViews(client: pg.PoolClient, work: () => Promise<void>): Promise<void> {
  await client.query('begin');
  try {
    await client.query('lock table picks, picks_previous in access exclusive mode');
    await work();
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** The table a picks view reads (`picks_set_<publication id>`, or the migration's initial ones). */
async function viewTable(client: pg.PoolClient, view: 'picks' | 'picks_previous'): Promise<string> {
  const result = await client.query<{ relname: string }>(
    `select distinct c.relname from pg_rewrite r
     join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
     join pg_class c on c.oid = d.refobjid and c.relkind = 'r'
     where r.ev_class = $1::regclass`,
    [view],
  );
  if (result.rows.length !== 1) throw new PublishError(`view ${view} should read exactly one table, it reads ${result.rows.length}`);
  return result.rows[0]!.relname;
}

/** A publication's own table; `picks` and `picks_previous` are views over two of them. */
function setTable(publicationId: number): string {
  return `picks_set_${publicationId}`;
}

/** Same columns, in the same order, as the tables the views were made over (migration 0009). */
function createSetTableSql(table: string): string {
  return `create table ${table} (
    member_id text not null, row text not null, position integer not null, class_id text not null,
    score double precision not null, reason text not null, model_version text not null, run_id text not null,
    generated_at timestamp with time zone not null)`;
}

/** The model version most of the set's members got (the set's headline version). */
function headlineVersion(dictionary: PicksDictionary): string {
  if (dictionary.counts.model > 0) return dictionary.modelVersions.find((v) => v !== 'heuristics' && v !== 'popularity') ?? 'heuristics';
  return dictionary.counts.heuristics > 0 ? 'heuristics' : 'popularity';
}

/**
 * Publishes a run's picks: loads them into the publication's own table and the serving cache,
 * then repoints the `picks` view at that table (and `picks_previous` at the old one, dropping
 * the one before) in one transaction, and points the cache at the new set. Readers see the old set or the new one, never a mix.
 * Idempotent: publishing a run whose picks are already current only re-checks the cache
 * pointer; a retry after a crash starts the load again.
 */
export async function publishPicks(db: Database, pool: pg.Pool, redis: Redis, request: PublishRequest): Promise<PublishResult> {
  const log = request.log ?? (() => undefined);
  const keys = new PicksCacheKeys(request.cachePrefix);
  const dictionary = await readPicksDictionary(request.dictionaryFile);
  const modelVersion = headlineVersion(dictionary);
  return withPublishLock(pool, async (client) => {
    const existing = await db.query.picksPublications.findFirst({
      where: and(eq(picksPublications.dagId, request.dagId), eq(picksPublications.runId, request.runId)),
    });
    if (existing && existing.status === 'current') {
      // A retry after Redis lost the cache (a restart) fills it again from this run's picks file.
      if (!(await redis.exists(keys.members(existing.id)))) {
        await fillCache(redis, keys.members(existing.id), request.picksFile, dictionary);
        await redis.set(keys.meta(existing.id), JSON.stringify(publicationMeta(existing.id, request.runId, modelVersion, dictionary)));
        log(`refilled the serving cache of publication ${existing.id}`);
      }
      await redis.set(keys.current, String(existing.id));
      log(`run ${request.runId}'s picks are already published (publication ${existing.id}); cache pointer checked`);
      return { publicationId: existing.id, published: false, members: existing.memberCount, picks: existing.pickCount, modelVersion: existing.modelVersion, seconds: { load: 0, index: 0, cache: 0, swap: 0 } };
    }
    if (existing && existing.status !== 'staged') {
      throw new PublishError(
        `run ${request.runId}'s picks were published before and have since been replaced (publication ${existing.id} is ${existing.status}); ` +
          'use `flywheel picks rollback` to serve the previous set again',
      );
    }
    const publicationId =
      existing?.id ??
      (
        await db
          .insert(picksPublications)
          .values({
            dagId: request.dagId,
            runId: request.runId,
            modelVersion,
            generatedAt: new Date(dictionary.generatedAt),
            status: 'staged',
            memberCount: 0,
            pickCount: 0,
          })
          .returning({ id: picksPublications.id })
      )[0]!.id;
    await dropAbandonedStaging(db, client, redis, keys, publicationId);
    const staging = setTable(publicationId);
    const t0 = performance.now();
    await client.query(`drop table if exists ${staging}`);
    await client.query(createSetTableSql(staging));
    const generatedAt = escapeCopyText(dictionary.generatedAt);
    const runId = escapeCopyText(request.runId);
    let members = 0;
    let picks = 0;
    const membersKey = keys.members(publicationId);
    await redis.unlink(membersKey);
    let cacheMs = 0;
    // COPY (text format) streams the rows in; one chunk per group of members, with backpressure.
    async function* copyChunks(): AsyncGenerator<string> {
      for await (const group of readPicksByMember(request.picksFile, dictionary)) {
        const cacheStart = performance.now();
        await cacheMembers(redis, membersKey, group, dictionary.generatedAt);
        cacheMs += performance.now() - cacheStart;
        let chunk = '';
        for (const member of group) {
          members += 1;
          const memberId = escapeCopyText(member.memberId);
          const model = escapeCopyText(member.modelVersion);
          for (const row of member.rows) {
            const rowName = escapeCopyText(row.row);
            for (const pick of row.picks) {
              chunk += `${memberId}\t${rowName}\t${pick.position}\t${escapeCopyText(pick.classId)}\t${pick.score}\t${escapeCopyText(pick.reason)}\t${model}\t${runId}\t${generatedAt}\n`;
              picks += 1;
            }
          }
        }
        yield chunk;
      }
    }
    await pipeline(
      Readable.from(copyChunks()),
      client.query(copyFrom(`copy ${staging} (member_id, row, position, class_id, score, reason, model_version, run_id, generated_at) from stdin`)),
    );
    await redis.set(keys.meta(publicationId), JSON.stringify(publicationMeta(publicationId, request.runId, modelVersion, dictionary)));
    const t1 = performance.now();
    await client.query(`alter table ${staging} add constraint ${staging}_pkey primary key (member_id, row, position)`);
    await client.query(`analyze ${staging}`);
    const t2 = performance.now();
    log(`loaded ${picks} picks for ${members} members into ${staging} and the cache`);

    await swapViews(client, async () => {
      const currentTable = await viewTable(client, 'picks');
      const previousTable = await viewTable(client, 'picks_previous');
      await client.query(`create or replace view picks as select * from ${staging}`);
      await client.query(`create or replace view picks_previous as select * from ${currentTable}`);
      if (previousTable !== currentTable && previousTable !== staging) await client.query(`drop table ${previousTable}`);
      await client.query(`update picks_publication set status = 'retired' where status = 'previous'`);
      await client.query(`update picks_publication set status = 'previous' where status = 'current'`);
      await client.query(
        `update picks_publication set status = 'current', member_count = $2, pick_count = $3, model_version = $4, published_at = now(), popular_rows = $5 where id = $1`,
        [publicationId, members, picks, modelVersion, JSON.stringify(dictionary.popularRows)],
      );
    });
    await redis.set(keys.current, String(publicationId));
    const t3 = performance.now();
    await dropRetiredCaches(db, redis, keys);
    log(`publication ${publicationId} (run ${request.runId}, ${modelVersion}) is current`);
    return {
      publicationId,
      published: true,
      members,
      picks,
      modelVersion,
      seconds: { load: (t1 - t0 - cacheMs) / 1000, index: (t2 - t1) / 1000, cache: cacheMs / 1000, swap: (t3 - t2) / 1000 },
    };
  });
}

/** The serving-cache entries of one group of members. */
async function cacheMembers(redis: Redis, membersKey: string, group: MemberPicks[], generatedAt: string): Promise<void> {
  const pipeline = redis.pipeline();
  for (const member of group) {
    const cached: CachedMemberPicks = {
      modelVersion: member.modelVersion,
      generatedAt,
      rows: member.rows.map((row) => ({ row: row.row, picks: row.picks.map((p) => [p.classId, p.score, p.reason] as [string, number, string]) })),
    };
    pipeline.hset(membersKey, member.memberId, JSON.stringify(cached));
  }
  await pipeline.exec();
}

async function fillCache(redis: Redis, membersKey: string, picksFile: string, dictionary: PicksDictionary): Promise<void> {
  for await (const group of readPicksByMember(picksFile, dictionary)) await cacheMembers(redis, membersKey, group, dictionary.generatedAt);
}

function publicationMeta(publicationId: number, runId: string, modelVersion: string, dictionary: PicksDictionary): CachedPublicationMeta {
  return { publicationId, runId, modelVersion, generatedAt: dictionary.generatedAt, popularRows: dictionary.popularRows };
}

/**
 * Staging tables and cache hashes of other runs' publishes that crashed and were never retried.
 * Publishes hold the publish lock, so no other load is in progress; a later retry of such a
 * run starts its load over anyway.
 */
async function dropAbandonedStaging(db: Database, client: pg.PoolClient, redis: Redis, keys: PicksCacheKeys, publicationId: number): Promise<void> {
  const staged = await db.select({ id: picksPublications.id }).from(picksPublications).where(eq(picksPublications.status, 'staged'));
  for (const { id } of staged) {
    if (id === publicationId) continue;
    await client.query(`drop table if exists ${setTable(id)}`);
    await redis.unlink(keys.members(id), keys.meta(id));
  }
}

async function dropRetiredCaches(db: Database, redis: Redis, keys: PicksCacheKeys): Promise<void> {
  const retired = await db.select({ id: picksPublications.id }).from(picksPublications).where(inArray(picksPublications.status, ['retired']));
  const stale = retired.flatMap((r) => [keys.members(r.id), keys.meta(r.id)]);
  if (stale.length > 0) await redis.unlink(...stale);
}

export type RollbackResult = {
  /** The publication now served. */
  current: { publicationId: number; runId: string; modelVersion: string };
  /** The one it replaced (now `previous`: rolling back again restores it). */
  previous: { publicationId: number; runId: string; modelVersion: string };
};

/** Swaps what `picks` and `picks_previous` show (and the cache pointer): the set before the last publish is served again. */
export async function rollbackPicks(db: Database, pool: pg.Pool, redis: Redis, cachePrefix: string): Promise<RollbackResult> {
  const keys = new PicksCacheKeys(cachePrefix);
  return withPublishLock(pool, async (client) => {
    const rows = await db.select().from(picksPublications).where(inArray(picksPublications.status, ['current', 'previous']));
    const current = rows.find((r) => r.status === 'current');
    const previous = rows.find((r) => r.status === 'previous');
    if (!current || !previous) throw new PublishError('nothing to roll back to: there is no previous published set');
    const exists = await redis.exists(keys.members(previous.id));
    await swapViews(client, async () => {
      const currentTable = await viewTable(client, 'picks');
      const previousTable = await viewTable(client, 'picks_previous');
      await client.query(`create or replace view picks as select * from ${previousTable}`);
      await client.query(`create or replace view picks_previous as select * from ${currentTable}`);
      await client.query(`update picks_publication set status = case when id = $1 then 'previous' else 'current' end where id in ($1, $2)`, [current.id, previous.id]);
    });
    // Without its cache (Redis lost it), the API reads the restored set from PostgreSQL.
    if (exists) await redis.set(keys.current, String(previous.id));
    else await redis.del(keys.current);
    const describe = (r: typeof current) => ({ publicationId: r.id, runId: r.runId, modelVersion: r.modelVersion });
    return { current: describe(previous), previous: describe(current) };
  });
}

/** The publication now served, or null before the first publish. */
export async function currentPublication(db: Database) {
  return (await db.query.picksPublications.findFirst({ where: eq(picksPublications.status, 'current') })) ?? null;
}


