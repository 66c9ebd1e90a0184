import { FlywheelError } from '../core/errors.ts';
import { sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { Database } from '../core/db/client.ts';
import { sourceIdProblem } from './source/ids.ts';
import { Catalogue } from '../model/data/catalogue.ts';
import { HeuristicScorer, popularityFromCounts, type Popularity } from '../model/baselines/heuristics.ts';
import { PicksCacheKeys, type CachedMemberPicks, type CachedPublicationMeta } from './picks-cache.ts';
import { profileFromWorkouts } from '../model/data/profiles.ts';
import { currentPublication } from './publish.ts';
import { cutRows } from './rows/cut-rows.ts';
import { defaultRowSpecs, ROW_NAMES } from './rows/row-specs.ts';
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

export interface MemberPicksView {
  memberId: string;
  source: PicksResponseSource;
  modelVersion: string | null;
  generatedAt: string | null;
  rows: { row: string; picks: PickView[] }[];
}

export interface PicksReaderOptions {
  db: Database;
  redis: Redis;
  /** Redis key prefix of the serving cache (the installation's queue prefix). */
  cachePrefix: string;
  /**
   * How long the current publication pointer and class metadata are reused before being
   * read again. A publish is visible to this reader within this time.
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
}


/** A member id the id rule refuses: a 400 from the API, exit 2 from the CLI. */
export class InvalidMemberIdError extends FlywheelError {
  override readonly name = 'InvalidMemberIdError';
  constructor(problem: string) {
    super('invalid', `memberId: ${problem}`);
  }
}

interface ClassInfo {
  title: string;
  discipline: string | null;
  durationMin: number | null;
  instructor: string | null;
}

const ROW_ORDER: readonly string[] = ROW_NAMES;

function orderRows<T extends { row: string }>(rows: T[]): T[] {
  const rank = (row: string) => {
    const i = ROW_ORDER.indexOf(row);
    return i < 0 ? ROW_ORDER.length : i;
  };
  return [...rows].sort((a, b) => rank(a.row) - rank(b.row) || a.row.localeCompare(b.row));
}

/** A pick's JSON up to its score: `{"classId":…,"title":…,"discipline":…,"durationMin":…,"instructor":…,"score":`. */
function classFragment(classId: string, info: ClassInfo | undefined): Buffer {
  return Buffer.from(
    `{"classId":${JSON.stringify(classId)},"title":${JSON.stringify(info?.title ?? null)},"discipline":${JSON.stringify(info?.discipline ?? null)},"durationMin":${JSON.stringify(info?.durationMin ?? null)},"instructor":${JSON.stringify(info?.instructor ?? null)},"score":`,
  );
}

/** Pre-encoded pick fragments of one class-metadata snapshot, by class id (a string or its bytes). */
class Fragments {
  private readonly byId = new Map<string, Buffer>();
  private readonly byHash = new Map<number, { id: Buffer; fragment: Buffer }[]>();

  constructor(readonly classes: Map<string, ClassInfo>) {}

  forId(classId: string): Buffer {
    let fragment = this.byId.get(classId);
    if (fragment === undefined) {
      fragment = classFragment(classId, this.classes.get(classId));
      this.byId.set(classId, fragment);
    }
    return fragment;
  }

  /** The fragment of the class whose id is the ASCII text `src[start, end)`, without making a string. */
  forBytes(src: Buffer, start: number, end: number): Buffer {
    let hash = 0x811c9dc5; // FNV-1a
    for (let k = start; k < end; k++) hash = Math.imul(hash ^ src[k]!, 0x01000193);
    let bucket = this.byHash.get(hash);
    if (bucket) {
      for (const entry of bucket) {
        const id = entry.id;
        if (id.length !== end - start) continue;
        let same = true;
        for (let k = 0; k < id.length; k++) {
          if (id[k] !== src[start + k]) {
            same = false;
            break;
          }
        }
        if (same) return entry.fragment;
      }
    } else {
      bucket = [];
      this.byHash.set(hash, bucket);
    }
    const fragment = this.forId(src.toString('latin1', start, end));
    bucket.push({ id: Buffer.from(src.subarray(start, end)), fragment });
    return fragment;
  }
}

/** The same text as `JSON.stringify` of the cache-sourced view (from the parsed cache value). */
function cachedJson(memberId: string, cached: CachedMemberPicks, fragments: Fragments, only?: ReadonlySet<string>): Buffer {
  let out = `{"memberId":${JSON.stringify(memberId)},"source":"cache","modelVersion":${JSON.stringify(cached.modelVersion)},"generatedAt":${JSON.stringify(cached.generatedAt)},"rows":[`;
  let firstRow = true;
  for (const row of cached.rows) {
    if (only && !only.has(row.row)) continue;
    out += `${firstRow ? '' : ','}{"row":${JSON.stringify(row.row)},"picks":[`;
    firstRow = false;
    const picks = row.picks;
    for (let i = 0; i < picks.length; i++) {
      const [classId, score, reason] = picks[i]!;
      out += `${i === 0 ? '' : ','}${fragments.forId(classId).toString()}${JSON.stringify(score)},"reason":${JSON.stringify(reason)}}`;
    }
    out += ']}';
  }
  return Buffer.from(`${out}]}`);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ascii = (text: string) => Buffer.from(text, 'latin1');
const HEAD = [ascii('{"modelVersion":'), ascii(',"generatedAt":'), ascii(',"rows":[')] as const;
const ROW_HEAD = ascii('{"row":');
const PICKS_HEAD = ascii(',"picks":[');
const OUT_SOURCE = ascii(',"source":"cache","modelVersion":');
const OUT_GENERATED = ascii(',"generatedAt":');
const OUT_ROWS = ascii(',"rows":[');
const OUT_REASON = ascii(',"reason":');
const OUT_ROW_END = ascii(']}');

/**
 * Builds the response body straight from the cached value's bytes: the cache holds
 * `JSON.stringify` of a CachedMemberPicks, whose strings and numbers are already in the form
 * `JSON.stringify` gives them in the view, so they are copied through, and each pick's class
 * metadata is a pre-encoded fragment. Byte for byte what `cachedJson` (and `JSON.stringify(get())`)
 * gives; null when the value is not laid out as publish writes it (the caller parses it instead).
 */
class CachedBodyWriter {
  private out = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;
  private src: Buffer = Buffer.alloc(0);
  private i = 0;

  write(memberId: string, src: Buffer, fragments: Fragments, only?: ReadonlySet<string>): Buffer | null {
    this.src = src;
    this.i = 0;
    this.pos = 0;
    const body = this.body(memberId, fragments, only);
    this.src = Buffer.alloc(0);
    return body;
  }

  private body(memberId: string, fragments: Fragments, only?: ReadonlySet<string>): Buffer | null {
    const src = this.src;
    this.put(Buffer.from(`{"memberId":${JSON.stringify(memberId)}`));
    if (!this.expect(HEAD[0])) return null;
    this.put(OUT_SOURCE);
    if (!this.copyString()) return null;
    if (!this.expect(HEAD[1])) return null;
    this.put(OUT_GENERATED);
    if (!this.copyString()) return null;
    if (!this.expect(HEAD[2])) return null;
    this.put(OUT_ROWS);
    let firstRow = true;
    if (src[this.i] === 0x5d) this.i++; // no rows
    else {
      for (;;) {
        if (!this.expect(ROW_HEAD)) return null;
        const nameStart = this.i;
        if (!this.skipString()) return null;
        const name = JSON.parse(src.toString('utf8', nameStart, this.i)) as string;
        const keep = !only || only.has(name);
        if (keep) {
          if (!firstRow) this.byte(0x2c);
          firstRow = false;
          this.put(ROW_HEAD);
          this.copy(nameStart, this.i);
          this.put(PICKS_HEAD);
        }
        if (!this.expect(PICKS_HEAD)) return null;
        let firstPick = true;
        if (src[this.i] === 0x5d) this.i++;
        else {
          for (;;) {
            if (src[this.i++] !== 0x5b) return null;
            const idStart = this.i;
            const plain = this.skipString();
            if (plain === false) return null;
            const idEnd = this.i;
            if (src[this.i++] !== 0x2c) return null;
            const scoreStart = this.i;
            while (this.i < src.length && isNumberByte(src[this.i]!)) this.i++;
            const scoreEnd = this.i;
            if (scoreEnd === scoreStart || src[this.i++] !== 0x2c) return null;
            const reasonStart = this.i;
            if (!this.skipString()) return null;
            const reasonEnd = this.i;
            if (src[this.i++] !== 0x5d) return null;
            if (keep) {
              if (!firstPick) this.byte(0x2c);
              firstPick = false;
              this.put(plain === 'plain' ? fragments.forBytes(src, idStart + 1, idEnd - 1) : fragments.forId(JSON.parse(src.toString('utf8', idStart, idEnd)) as string));
              this.copy(scoreStart, scoreEnd);
              this.put(OUT_REASON);
              this.copy(reasonStart, reasonEnd);
              this.byte(0x7d);
            }
            const next = src[this.i++];
            if (next === 0x5d) break;
            if (next !== 0x2c) return null;
          }
        }
        if (src[this.i++] !== 0x7d) return null;
        if (keep) this.put(OUT_ROW_END);
        const next = src[this.i++];
        if (next === 0x5d) break;
        if (next !== 0x2c) return null;
      }
    }
    if (src[this.i++] !== 0x7d || this.i !== src.length) return null;
    this.byte(0x5d);
    this.byte(0x7d);
    const body = Buffer.allocUnsafe(this.pos);
    this.out.copy(body, 0, 0, this.pos);
    return body;
  }

  private room(n: number): void {
    if (this.pos + n <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + n));
    this.out.copy(grown, 0, 0, this.pos);
    this.out = grown;
  }

  private put(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.out.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private byte(b: number): void {
    this.room(1);
    this.out[this.pos++] = b;
  }

  private copy(start: number, end: number): void {
    this.room(end - start);
    const out = this.out;
    const src = this.src;
    let pos = this.pos;
    for (let k = start; k < end; k++) out[pos++] = src[k]!;
    this.pos = pos;
  }

  private expect(bytes: Uint8Array): boolean {
    const src = this.src;
    if (this.i + bytes.length > src.length) return false;
    for (let k = 0; k < bytes.length; k++) if (src[this.i + k] !== bytes[k]) return false;
    this.i += bytes.length;
    return true;
  }

  /** Copies a JSON string (quotes included) from src to out. */
  private copyString(): boolean {
    const start = this.i;
    if (!this.skipString()) return false;
    this.copy(start, this.i);
    return true;
  }

  /** Skips a JSON string; 'plain' when it is ASCII without escapes (its text is its bytes), else 'escaped'; false when malformed. */
  private skipString(): 'plain' | 'escaped' | false {
    const src = this.src;
    if (src[this.i] !== QUOTE) return false;
    let plain = true;
    for (let k = this.i + 1; k < src.length; k++) {
      const c = src[k]!;
      if (c === QUOTE) {
        this.i = k + 1;
        return plain ? 'plain' : 'escaped';
      }
      if (c === BACKSLASH) {
        plain = false;
        k++;
      } else if (c >= 0x80) plain = false;
    }
    return false;
  }
}

function isNumberByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x2b || c === 0x65 || c === 0x45;
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
  private scorer: { catalogue: Catalogue; popularity: Popularity; scorer: HeuristicScorer; asOf: number; at: number } | null = null;

  constructor(private readonly options: PicksReaderOptions) {
    this.keys = new PicksCacheKeys(options.cachePrefix);
    this.refreshMs = options.refreshMs ?? 1000;
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
          rows: parsed.rows.map((row) => ({ row: row.row, picks: row.picks.map(([classId, score, reason]) => this.view(classes, classId, score, reason)) })),
        };
      }
    }
    return this.afterCacheMiss(memberId, publicationId);
  }

  /**
   * The body of `get(memberId)` as UTF-8 JSON (byte for byte `JSON.stringify` of the view), with
   * only the rows named in `rows` when given. On the cache path (every published member) it is
   * spliced from the cached value's bytes and pre-encoded class metadata, without materialising
   * the view; otherwise it is `get`'s view, serialised.
   */
  async getBody(memberId: string, rows?: ReadonlySet<string>): Promise<{ source: PicksResponseSource; body: Buffer }> {
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
        return { source: 'cache', body };
      }
    }
    let view = await this.afterCacheMiss(memberId, publicationId);
    if (rows) view = { ...view, rows: view.rows.filter((row) => rows.has(row.row)) };
    return { source: view.source, body: Buffer.from(JSON.stringify(view)) };
  }

  private async afterCacheMiss(memberId: string, publicationId: number | null): Promise<MemberPicksView> {
    const fromDatabase = await this.fromDatabase(memberId);
    if (fromDatabase) return fromDatabase;
    const fromHistory = await this.heuristicsOnRequest(memberId);
    if (fromHistory) return fromHistory;
    return this.popular(memberId, publicationId);
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

  /** Class metadata is kept for refreshMs, and at least 30 s (titles rarely change). */
  private classesFresh(now: number): boolean {
    return this.classes !== null && now - this.classes.at < Math.max(this.refreshMs, 30_000);
  }

  /** Class metadata for hydrating picks, reloaded when no longer fresh (single flight). */
  private async classInfo(): Promise<Map<string, ClassInfo>> {
    if (this.classesFresh(Date.now())) return this.classes!.byId;
    if (!this.classesLoading) {
      this.classesLoading = (async () => {
        const result = await this.options.db.execute<{ class_id: string; title: string; discipline: string | null; duration_min: number | null; instructor: string | null }>(sql`
          select c.class_id, c.title, c.discipline, c.duration_min, coalesce(i.name, c.instructor_id) as instructor
          from source.class c left join source.instructor i on i.instructor_id = c.instructor_id`);
        const byId = new Map<string, ClassInfo>();
        for (const r of result.rows) byId.set(r.class_id, { title: r.title, discipline: r.discipline, durationMin: r.duration_min, instructor: r.instructor });
        this.classes = { byId, fragments: new Fragments(byId), at: Date.now() };
        return byId;
      })().finally(() => {
        this.classesLoading = null;
      });
    }
    return this.classes?.byId ?? this.classesLoading;
  }

  private async fromDatabase(memberId: string): Promise<MemberPicksView | null> {
    // One statement reads one table: the set published at that moment, never a mix.
    const result = await this.options.db.execute<{ row: string; position: number; class_id: string; score: number; reason: string; model_version: string; generated_at: Date }>(sql`
      select row, position, class_id, score, reason, model_version, generated_at from picks where member_id = ${memberId} order by row, position`);
    if (result.rows.length === 0) return null;
    const classes = await this.classInfo();
    const rows = new Map<string, PickView[]>();
    for (const r of result.rows) {
      let picks = rows.get(r.row);
      if (!picks) rows.set(r.row, (picks = []));
      picks.push(this.view(classes, r.class_id, Number(r.score), r.reason));
    }
    const first = result.rows[0]!;
    return {
      memberId,
      source: 'database',
      modelVersion: first.model_version,
      generatedAt: new Date(first.generated_at).toISOString(),
      rows: orderRows([...rows].map(([row, picks]) => ({ row, picks }))),
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


