import { FlywheelError } from '../core/errors.ts';
import { sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { Database } from '../core/db/client.ts';
import type { Logger } from '../core/logger.ts';
import { sourceIdProblem } from './source/ids.ts';
import { Catalogue } from '../model/data/catalogue.ts';
import { HeuristicScorer, popularityFromCounts, type Popularity } from '../model/baselines/heuristics.ts';
import { PicksCacheKeys, type CachedMemberPicks, type CachedPublicationMeta, type RowExperiment } from './picks-cache.ts';
import { profileFromWorkouts } from '../model/data/profiles.ts';
import { currentPublication } from './publish.ts';
import { cutRows } from './rows/cut-rows.ts';
import { defaultRowSpecs } from './rows/row-specs.ts';
import { CachedBodyWriter, cachedJson, Fragments, orderRows, type ClassInfo } from './picks-body.ts';
import { TopN } from '../model/data/top-n.ts';

/** Where a response's rows came from. */
export type PicksResponseSource = 'cache' | 'database' | 'heuristics' | 'popular';

export interface PickView {
  classId: string;
  title: string | null;
  discipline: string | null;
  durationMin: number | null;
  instructor: string | null;
  score: number;
  reason: string;
}

/** A row of a response; `experiment` when an experiment's variant ranked it. */
export interface RowView {
  row: string;
  picks: PickView[];
  experiment?: RowExperiment;
}

export interface MemberPicksView {
  memberId: string;
  source: PicksResponseSource;
  modelVersion: string | null;
  generatedAt: string | null;
  rows: RowView[];
}

/**
 * A response body and what the impression log needs of it: the publication it came from and the
 * picks themselves — on the cache path the cached value's bytes as Redis returned them (a
 * CachedMemberPicks, parsed only when the log is flushed, off the response path), else the view.
 */
export interface PicksBody {
  source: PicksResponseSource;
  body: Buffer;
  /** The publication served (the cache pointer, or the `picks` set's); null when unknown. */
  publicationId: number | null;
  picks: Buffer | MemberPicksView;
}

export interface PicksReaderOptions {
  db: Database;
  redis: Redis;
  /** Redis key prefix of the serving cache (the installation's queue prefix). */
  cachePrefix: string;
  /**
   * How long the current publication pointer is reused before being read again (a publish is
   * visible to this reader within this time), and how long after a failed reload of the class
   * metadata the next is tried.
   * @defaultValue 1000
   */
  refreshMs?: number;
  /** @defaultValue 10 */
  rowSize?: number;
  /** @defaultValue 100 */
  rankedSize?: number;
  /**
   * A cache read slower than this is abandoned and the picks are read from PostgreSQL.
   * @defaultValue 250
   */
  cacheTimeoutMs?: number;
  /**
   * How long class metadata (titles, instructors) is reused before it is read again, in the
   * background while the last one keeps serving.
   * @defaultValue refreshMs, and at least 30000 (titles rarely change)
   */
  classesRefreshMs?: number;
  /** Where a failed background refresh of the class metadata is reported (`warn`, once per outage). @defaultValue none */
  logger?: Pick<Logger, 'warn' | 'info'>;
}

/** A row with its experiment, when it has one (after the picks, as the cached body writes it). */
function withExperiment(row: RowView, experiment: RowExperiment | undefined): RowView {
  return experiment ? { row: row.row, picks: row.picks, experiment: { key: experiment.key, variant: experiment.variant } } : row;
}

/** A member id the id rule refuses: a 400 from the API, exit 2 from the CLI. */
export class InvalidMemberIdError extends FlywheelError {
  override readonly name = 'InvalidMemberIdError';
  constructor(problem: string) {
    super('invalid', `memberId: ${problem}`);
  }
}

/**
 * Reads a member's published picks for the API and the CLI: from the Redis cache, else from
 * the `picks` table, else heuristic rows computed on request for a member with history the
 * published set does not know yet, else the published popular rows.
 */
export class PicksReader {
  private readonly keys: PicksCacheKeys;
  private readonly refreshMs: number;
  private pointer: { value: number | null; at: number } = { value: null, at: Number.NEGATIVE_INFINITY };
  private classes: { byId: Map<string, ClassInfo>; fragments: Fragments; at: number } | null = null;
  private readonly writer = new CachedBodyWriter();
  private classesLoading: Promise<Map<string, ClassInfo>> | null = null;
  private readonly classesRefreshMs: number;
  /** When the last background refresh of class metadata failed (null: it did not): the next waits refreshMs. */
  private classesFailedAt: number | null = null;
  private scorer: { catalogue: Catalogue; popularity: Popularity; scorer: HeuristicScorer; asOf: number; at: number } | null = null;

  constructor(private readonly options: PicksReaderOptions) {
    this.keys = new PicksCacheKeys(options.cachePrefix);
    this.refreshMs = options.refreshMs ?? 1000;
    this.classesRefreshMs = options.classesRefreshMs ?? Math.max(this.refreshMs, 30_000);
  }

  /**
   * A cache read, or null when Redis is not connected, fails or does not answer within
   * `cacheTimeoutMs`: the API then serves from PostgreSQL instead of waiting for Redis.
   */
  private async fromCache<T>(read: () => Promise<T>): Promise<T | null> {
    const redis = this.options.redis;
    // A lazy client (the CLI's) connects on first use; one that is reconnecting is skipped.
    if (redis.status === 'wait') await redis.connect().catch(() => undefined);
    if (redis.status !== 'ready') return null;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        read(),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), this.options.cacheTimeoutMs ?? 250);
        }),
      ]);
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  async get(memberId: string): Promise<MemberPicksView> {
    const problem = sourceIdProblem(memberId);
    if (problem) throw new InvalidMemberIdError(problem);
    const publicationId = await this.currentPointer();
    if (publicationId !== null) {
      const cached = await this.fromCache(() => this.options.redis.hget(this.keys.members(publicationId), memberId));
      if (cached) {
        const parsed = JSON.parse(cached) as CachedMemberPicks;
        const classes = await this.classInfo();
        return {
          memberId,
          source: 'cache',
          modelVersion: parsed.modelVersion,
          generatedAt: parsed.generatedAt,
          rows: parsed.rows.map((row) => withExperiment({ row: row.row, picks: row.picks.map(([classId, score, reason]) => this.view(classes, classId, score, reason)) }, row.experiment)),
        };
      }
    }
    return (await this.afterCacheMiss(memberId, publicationId)).view;
  }

  /**
   * The body of `get(memberId)` as UTF-8 JSON (byte for byte `JSON.stringify` of the view), with
   * only the rows named in `rows` when given. On the cache path (every published member) it is
   * spliced from the cached value's bytes and pre-encoded class metadata, without materialising
   * the view; otherwise it is `get`'s view, serialised.
   */
  async getBody(memberId: string, rows?: ReadonlySet<string>): Promise<PicksBody> {
    const problem = sourceIdProblem(memberId);
    if (problem) throw new InvalidMemberIdError(problem);
    const now = Date.now();
    const publicationId = now - this.pointer.at < this.refreshMs ? this.pointer.value : await this.currentPointer();
    if (publicationId !== null) {
      const cached = await this.fromCache(() => this.options.redis.hgetBuffer(this.keys.members(publicationId), memberId));
      if (cached && cached.length > 0) {
        if (!this.classesFresh(Date.now())) await this.classInfo();
        const { fragments } = this.classes!;
        const body = this.writer.write(memberId, cached, fragments, rows) ?? cachedJson(memberId, JSON.parse(cached.toString('utf8')) as CachedMemberPicks, fragments, rows);
        return { source: 'cache', body, publicationId, picks: cached };
      }
    }
    const found = await this.afterCacheMiss(memberId, publicationId);
    const view = rows ? { ...found.view, rows: found.view.rows.filter((row) => rows.has(row.row)) } : found.view;
    return { source: view.source, body: Buffer.from(JSON.stringify(view)), publicationId: found.publicationId, picks: view };
  }

  private async afterCacheMiss(memberId: string, publicationId: number | null): Promise<{ view: MemberPicksView; publicationId: number | null }> {
    const fromDatabase = await this.fromDatabase(memberId);
    if (fromDatabase) return { view: fromDatabase.view, publicationId: fromDatabase.publicationId ?? publicationId };
    const fromHistory = await this.heuristicsOnRequest(memberId);
    return { view: fromHistory ?? (await this.popular(memberId, publicationId)), publicationId };
  }

  private async currentPointer(): Promise<number | null> {
    const now = Date.now();
    if (now - this.pointer.at < this.refreshMs) return this.pointer.value;
    const raw = await this.fromCache(() => this.options.redis.get(this.keys.current));
    this.pointer = { value: raw === null ? null : Number(raw), at: now };
    return this.pointer.value;
  }

  private view(classes: Map<string, ClassInfo>, classId: string, score: number, reason: string): PickView {
    const info = classes.get(classId);
    return {
      classId,
      title: info?.title ?? null,
      discipline: info?.discipline ?? null,
      durationMin: info?.durationMin ?? null,
      instructor: info?.instructor ?? null,
      score,
      reason,
    };
  }

  /**
   * Whether the class metadata in hand needs no reload: loaded within classesRefreshMs, or a
   * reload failed within refreshMs (PostgreSQL is down: the last metadata keeps serving, and a
   * retry is not attempted on every request).
   */
  private classesFresh(now: number): boolean {
    if (this.classes === null) return false;
    if (now - this.classes.at < this.classesRefreshMs) return true;
    return this.classesFailedAt !== null && now - this.classesFailedAt < this.refreshMs;
  }

  /**
   * Class metadata for hydrating picks, reloaded when no longer fresh (single flight). The first
   * load is waited for (and its failure fails the request); a reload runs in the background while
   * the last metadata serves, and its failure is logged once per outage, never left unhandled
   * (an unhandled rejection would end the web process while Redis could still serve).
   */
  private async classInfo(): Promise<Map<string, ClassInfo>> {
    if (this.classesFresh(Date.now())) return this.classes!.byId;
    if (!this.classesLoading) {
      const loading = (async () => {
        const result = await this.options.db.execute<{ class_id: string; title: string; discipline: string | null; duration_min: number | null; instructor: string | null }>(sql`
          select c.class_id, c.title, c.discipline, c.duration_min, coalesce(i.name, c.instructor_id) as instructor
          from source.class c left join source.instructor i on i.instructor_id = c.instructor_id`);
        const byId = new Map<string, ClassInfo>();
        for (const r of result.rows) byId.set(r.class_id, { title: r.title, discipline: r.discipline, durationMin: r.duration_min, instructor: r.instructor });
        this.classes = { byId, fragments: new Fragments(byId), at: Date.now() };
        if (this.classesFailedAt !== null) this.options.logger?.info('picks: class metadata reloaded again');
        this.classesFailedAt = null;
        return byId;
      })();
      this.classesLoading = loading;
      // Handled here, whoever awaits it: a background reload has no one waiting for it.
      loading.then(
        () => {
          this.classesLoading = null;
        },
        (error: unknown) => {
          this.classesLoading = null;
          if (this.classes === null) return; // a first load: its caller gets the error
          if (this.classesFailedAt === null) {
            this.options.logger?.warn({ err: error }, 'picks: reloading class metadata failed; serving the last loaded until PostgreSQL answers again');
          }
          this.classesFailedAt = Date.now();
        },
      );
    }
    return this.classes?.byId ?? this.classesLoading;
  }

  private async fromDatabase(memberId: string): Promise<{ view: MemberPicksView; publicationId: number | null } | null> {
    // One statement reads one table: the set published at that moment, never a mix. The
    // publication is the set's own (by its run), for the impression log.
    const result = await this.options.db.execute<{
      row: string; position: number; class_id: string; score: number; reason: string; model_version: string; generated_at: Date;
      experiment_key: string | null; variant: string | null; publication_id: number | null;
    }>(sql`
      select p.row, p.position, p.class_id, p.score, p.reason, p.model_version, p.generated_at, p.experiment_key, p.variant, pub.id as publication_id
      from picks p
      left join lateral (select pp.id from picks_publication pp where pp.run_id = p.run_id and pp.status <> 'staged' order by pp.id desc limit 1) pub on true
      where p.member_id = ${memberId} order by p.row, p.position`);
    if (result.rows.length === 0) return null;
    const classes = await this.classInfo();
    const rows = new Map<string, RowView>();
    for (const r of result.rows) {
      let row = rows.get(r.row);
      if (!row) rows.set(r.row, (row = withExperiment({ row: r.row, picks: [] }, r.experiment_key !== null && r.variant !== null ? { key: r.experiment_key, variant: r.variant } : undefined)));
      row.picks.push(this.view(classes, r.class_id, Number(r.score), r.reason));
    }
    const first = result.rows[0]!;
    return {
      view: {
        memberId,
        source: 'database',
        modelVersion: first.model_version,
        generatedAt: new Date(first.generated_at).toISOString(),
        rows: orderRows([...rows.values()]),
      },
      publicationId: first.publication_id === null ? null : Number(first.publication_id),
    };
  }

  /** Heuristic rows for a member with workouts the published set does not include (joined since). */
  private async heuristicsOnRequest(memberId: string): Promise<MemberPicksView | null> {
    const workouts = await this.options.db.execute<{ class_id: string; started_ms: number }>(sql`
      select class_id, (extract(epoch from started_at) * 1000)::float8 as started_ms from source.workout
      where member_id = ${memberId} order by started_at desc limit 500`);
    if (workouts.rows.length === 0) return null;
    const model = await this.heuristicModel();
    if (!model) return null;
    const { catalogue, scorer, asOf } = model;
    const classIdx = workouts.rows
      .map((w) => catalogue.index.get(w.class_id))
      .filter((c): c is number => c !== undefined)
      .reverse();
    const profile = profileFromWorkouts(catalogue, classIdx, Number(workouts.rows[0]!.started_ms));
    const excluded = new Uint8Array(catalogue.size);
    for (const c of profile.taken) excluded[c] = 1;
    const scores = scorer.score(profile, excluded);
    const rankedSize = this.options.rankedSize ?? 100;
    const best = new TopN(Math.max(300, rankedSize), catalogue.airedAt).select(scores);
    const specs = defaultRowSpecs(this.options.rowSize ?? 10, rankedSize);
    const rows = cutRows({ catalogue, profile, asOf, candidates: best, scores: Float64Array.from(best, (c) => scores[c]!), named: specs.named, ranked: specs.ranked });
    const classes = await this.classInfo();
    return {
      memberId,
      source: 'heuristics',
      modelVersion: 'heuristics',
      generatedAt: new Date().toISOString(),
      rows: rows.map((row) => ({ row: row.row, picks: row.picks.map((p) => this.view(classes, catalogue.classIds[p.classIdx]!, p.score, p.reason)) })),
    };
  }

  /** The catalogue and class popularity over the last 14 days, rebuilt at most every 10 minutes. */
  private async heuristicModel() {
    const now = Date.now();
    if (this.scorer && now - this.scorer.at < 10 * 60_000) return this.scorer;
    const classes = await this.options.db.execute<{ class_id: string; title: string; discipline: string | null; duration_min: number | null; instructor_id: string | null; instructor_name: string | null; language: string | null; aired_ms: number | null; is_encore: boolean }>(sql`
      select c.class_id, c.title, c.discipline, c.duration_min, c.instructor_id, i.name as instructor_name, c.language,
             (extract(epoch from c.aired_at) * 1000)::float8 as aired_ms, c.is_encore
      from source.class c left join source.instructor i on i.instructor_id = c.instructor_id
      where c.aired_at is null or c.aired_at <= now() order by c.class_id`);
    if (classes.rows.length === 0) return null;
    const rows = classes.rows;
    const catalogue = Catalogue.fromColumns({
      ids: rows.map((r) => r.class_id),
      titles: rows.map((r) => r.title),
      disciplineNames: rows.map((r) => r.discipline),
      durations: rows.map((r) => r.duration_min ?? -1),
      instructorIds: rows.map((r) => r.instructor_id),
      instructorNamesByClass: rows.map((r) => r.instructor_name),
      languages: rows.map((r) => r.language),
      aired: rows.map((r) => (r.aired_ms === null ? Number.NaN : Number(r.aired_ms))),
      encore: rows.map((r) => r.is_encore),
    });
    const counts = await this.options.db.execute<{ class_id: string; n: number }>(sql`
      select class_id, count(*)::int as n from source.workout where started_at > now() - interval '14 days' group by class_id`);
    const recent = new Float64Array(catalogue.size);
    for (const r of counts.rows) {
      const c = catalogue.index.get(r.class_id);
      if (c !== undefined) recent[c] = Number(r.n);
    }
    const asOf = now;
    const popularity = popularityFromCounts(catalogue, recent, recent, asOf);
    this.scorer = { catalogue, popularity, scorer: new HeuristicScorer(catalogue, popularity, asOf), asOf, at: now };
    return this.scorer;
  }

  private async popular(memberId: string, publicationId: number | null): Promise<MemberPicksView> {
    let meta: Pick<CachedPublicationMeta, 'generatedAt' | 'popularRows'> | null = null;
    if (publicationId !== null) {
      const raw = await this.fromCache(() => this.options.redis.get(this.keys.meta(publicationId)));
      if (raw) meta = JSON.parse(raw) as CachedPublicationMeta;
    }
    if (!meta) {
      const publication = await currentPublication(this.options.db);
      if (publication) meta = { generatedAt: publication.generatedAt.toISOString(), popularRows: publication.popularRows };
    }
    const classes = await this.classInfo();
    return {
      memberId,
      source: 'popular',
      modelVersion: meta ? 'popularity' : null,
      generatedAt: meta?.generatedAt ?? null,
      rows: (meta?.popularRows ?? []).map((row) => ({ row: row.row, picks: row.picks.map((p) => this.view(classes, p.classId, p.score, p.reason)) })),
    };
  }
}


