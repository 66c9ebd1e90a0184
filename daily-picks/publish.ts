import { FlywheelError } from '../core/errors.ts';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Database } from '../core/db/client.ts';
import { picksPublications } from '../core/db/schema/picks.ts';
import { eq, and, inArray } from 'drizzle-orm';
import { copyAndSwap, swapBack, withAdvisoryLock, type CopyRow, type SwapViews, type TableColumn } from '../operators/copy-and-swap.ts';
import { RedisHashCache, type HashEntry } from '../operators/redis-hash-cache.ts';
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

/** A publish or rollback refused in the current state (another set is being published, nothing to roll back to). */
export class PublishError extends FlywheelError {
  override readonly name = 'PublishError';
  constructor(message: string) {
    super('conflict', message);
  }
}

/** The views readers query: the current set and the one it replaced (migration 0009). */
const PICKS_VIEWS = { view: 'picks', previousView: 'picks_previous' } as const satisfies SwapViews;

/** The serving cache: one hash per publication (field = member id) and a pointer (see PicksCacheKeys). */
type PicksCache = RedisHashCache<PicksCacheKeys>;

/** A publication's own table; `picks` and `picks_previous` are views over two of them. */
function setTable(publicationId: number): string {
  return `picks_set_${publicationId}`;
}

/**
 * Same columns, in the same order, as the tables the views were made over (migration 0009), then
 * the experiment variant that ranked the row (null: none), which migration 0012 added to the sets
 * published before: `create or replace view` can add columns at the end, never drop them, so
 * every set the views may show again (rollback) has them.
 */
const SET_COLUMNS: readonly TableColumn[] = [
  ['member_id', 'text not null'],
  ['row', 'text not null'],
  ['position', 'integer not null'],
  ['class_id', 'text not null'],
  ['score', 'double precision not null'],
  ['reason', 'text not null'],
  ['model_version', 'text not null'],
  ['run_id', 'text not null'],
  ['generated_at', 'timestamp with time zone not null'],
  ['experiment_key', 'text'],
  ['variant', 'text'],
];

/** The model version most of the set's members got (the set's headline version). */
function headlineVersion(dictionary: PicksDictionary): string {
  if (dictionary.counts.model + dictionary.counts.ease + dictionary.counts.baseline > 0) {
    return dictionary.modelVersions.find((v) => v !== 'heuristics' && v !== 'popularity') ?? 'heuristics';
  }
  return dictionary.counts.heuristics > 0 ? 'heuristics' : 'popularity';
}

/**
 * Publishes a run's picks: loads them into the publication's own table and the serving cache,
 * then repoints the `picks` view at that table (and `picks_previous` at the old one, dropping
 * the one before) in one transaction (`copyAndSwap`), and points the cache at the new set.
 * Readers see the old set or the new one, never a mix.
 * Idempotent: publishing a run whose picks are already current only re-checks the cache
 * pointer; a retry after a crash starts the load again.
 */
export async function publishPicks(db: Database, pool: pg.Pool, redis: Redis, request: PublishRequest): Promise<PublishResult> {
  const log = request.log ?? (() => undefined);
  const cache = new RedisHashCache(redis, new PicksCacheKeys(request.cachePrefix));
  const dictionary = await readPicksDictionary(request.dictionaryFile);
  const modelVersion = headlineVersion(dictionary);
  return withAdvisoryLock(pool, PUBLISH_LOCK, async (client) => {
    const existing = await db.query.picksPublications.findFirst({
      where: and(eq(picksPublications.dagId, request.dagId), eq(picksPublications.runId, request.runId)),
    });
    if (existing && existing.status === 'current') {
      // A retry after Redis lost the cache (a restart) fills it again from this run's picks file.
      if (!(await cache.has(existing.id))) {
        await cache.fill(existing.id, cacheBatches(request.picksFile, dictionary));
        await cache.setMeta(existing.id, publicationMeta(existing.id, request.runId, modelVersion, dictionary));
        log(`refilled the serving cache of publication ${existing.id}`);
      }
      await cache.point(existing.id);
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
    await dropAbandonedStaging(db, client, cache, publicationId);
    await cache.clear(publicationId);
    await cache.setMeta(publicationId, publicationMeta(publicationId, request.runId, modelVersion, dictionary));
    let members = 0;
    let picks = 0;
    let cacheMs = 0;
    // One pass over the picks file: each group of members goes to the cache, then to COPY (with backpressure).
    async function* setRows(): AsyncGenerator<CopyRow[]> {
      for await (const group of readPicksByMember(request.picksFile, dictionary)) {
        const cacheStart = performance.now();
        await cache.write(publicationId, cacheEntries(group, dictionary.generatedAt));
        cacheMs += performance.now() - cacheStart;
        const rows: CopyRow[] = [];
        for (const member of group) {
          members += 1;
          for (const row of member.rows) {
            for (const pick of row.picks) {
              rows.push([member.memberId, row.row, pick.position, pick.classId, pick.score, pick.reason, member.modelVersion, request.runId, dictionary.generatedAt, row.experiment?.key ?? null, row.experiment?.variant ?? null]);
              picks += 1;
            }
          }
        }
        yield rows;
      }
    }
    const published = await copyAndSwap(client, {
      ...PICKS_VIEWS,
      table: setTable(publicationId),
      columns: SET_COLUMNS,
      primaryKey: ['member_id', 'row', 'position'],
      rows: setRows(),
      onSwap: async (tx) => {
        await tx.query(`update picks_publication set status = 'retired' where status = 'previous'`);
        await tx.query(`update picks_publication set status = 'previous' where status = 'current'`);
        await tx.query(
          `update picks_publication set status = 'current', member_count = $2, pick_count = $3, model_version = $4, published_at = now(), popular_rows = $5 where id = $1`,
          [publicationId, members, picks, modelVersion, JSON.stringify(dictionary.popularRows)],
        );
      },
    });
    log(`loaded ${picks} picks for ${members} members into ${setTable(publicationId)} and the cache`);
    const pointStart = performance.now();
    await cache.point(publicationId);
    const pointMs = performance.now() - pointStart;
    await dropRetiredCaches(db, cache);
    log(`publication ${publicationId} (run ${request.runId}, ${modelVersion}) is current`);
    return {
      publicationId,
      published: true,
      members,
      picks,
      modelVersion,
      seconds: { load: published.seconds.load - cacheMs / 1000, index: published.seconds.index, cache: cacheMs / 1000, swap: published.seconds.swap + pointMs / 1000 },
    };
  });
}

/** The serving-cache entries of one group of members: member id → CachedMemberPicks JSON. */
function cacheEntries(group: MemberPicks[], generatedAt: string): HashEntry[] {
  return group.map((member) => {
    const cached: CachedMemberPicks = {
      modelVersion: member.modelVersion,
      generatedAt,
      // `experiment` last and only when there is one: picks-body.ts reads the value in this layout.
      rows: member.rows.map((row) => {
        const picks = row.picks.map((p) => [p.classId, p.score, p.reason] as [string, number, string]);
        return row.experiment ? { row: row.row, picks, experiment: { key: row.experiment.key, variant: row.experiment.variant } } : { row: row.row, picks };
      }),
    };
    return [member.memberId, JSON.stringify(cached)] as const;
  });
}

async function* cacheBatches(picksFile: string, dictionary: PicksDictionary): AsyncGenerator<HashEntry[]> {
  for await (const group of readPicksByMember(picksFile, dictionary)) yield cacheEntries(group, dictionary.generatedAt);
}

function publicationMeta(publicationId: number, runId: string, modelVersion: string, dictionary: PicksDictionary): CachedPublicationMeta {
  return { publicationId, runId, modelVersion, generatedAt: dictionary.generatedAt, popularRows: dictionary.popularRows };
}

/**
 * Staging tables and cache hashes of other runs' publishes that crashed and were never retried.
 * Publishes hold the publish lock, so no other load is in progress; a later retry of such a
 * run starts its load over anyway.
 */
async function dropAbandonedStaging(db: Database, client: pg.PoolClient, cache: PicksCache, publicationId: number): Promise<void> {
  const staged = await db.select({ id: picksPublications.id }).from(picksPublications).where(eq(picksPublications.status, 'staged'));
  for (const { id } of staged) {
    if (id === publicationId) continue;
    await client.query(`drop table if exists ${setTable(id)}`);
    await cache.drop([id]);
  }
}

/** The cache keeps the current and the previous publications' hashes: retired ones are deleted. */
async function dropRetiredCaches(db: Database, cache: PicksCache): Promise<void> {
  const retired = await db.select({ id: picksPublications.id }).from(picksPublications).where(inArray(picksPublications.status, ['retired']));
  await cache.drop(retired.map((r) => r.id));
}

export type RollbackResult = {
  /** The publication now served. */
  current: { publicationId: number; runId: string; modelVersion: string };
  /** The one it replaced (now `previous`: rolling back again restores it). */
  previous: { publicationId: number; runId: string; modelVersion: string };
};

/** Swaps what `picks` and `picks_previous` show (and the cache pointer): the set before the last publish is served again. */
export async function rollbackPicks(db: Database, pool: pg.Pool, redis: Redis, cachePrefix: string): Promise<RollbackResult> {
  const cache = new RedisHashCache(redis, new PicksCacheKeys(cachePrefix));
  return withAdvisoryLock(pool, PUBLISH_LOCK, async (client) => {
    const rows = await db.select().from(picksPublications).where(inArray(picksPublications.status, ['current', 'previous']));
    const current = rows.find((r) => r.status === 'current');
    const previous = rows.find((r) => r.status === 'previous');
    if (!current || !previous) throw new PublishError('nothing to roll back to: there is no previous published set');
    const exists = await cache.has(previous.id);
    await swapBack(client, {
      ...PICKS_VIEWS,
      onSwap: async (tx) => {
        await tx.query(`update picks_publication set status = case when id = $1 then 'previous' else 'current' end where id in ($1, $2)`, [current.id, previous.id]);
      },
    });
    // Without its cache (Redis lost it), the API reads the restored set from PostgreSQL.
    if (exists) await cache.point(previous.id);
    else await cache.unpoint();
    const describe = (r: typeof current) => ({ publicationId: r.id, runId: r.runId, modelVersion: r.modelVersion });
    return { current: describe(previous), previous: describe(current) };
  });
}

/** The publication now served, or null before the first publish. */
export async function currentPublication(db: Database) {
  return (await db.query.picksPublications.findFirst({ where: eq(picksPublications.status, 'current') })) ?? null;
}


