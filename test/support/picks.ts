/**
 * Helpers for the Daily Picks tests: an isolated environment (own database, Redis key prefix,
 * artifacts folder — also exported to `process.env`, where the pipeline's tasks read their
 * connections), hand-built source data, the pipeline's steps run directly, and the picks API
 * on a free port.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { loadConfig } from '../../core/config.ts';
import { connectDatabase, type DatabaseConnection } from '../../core/db/client.ts';
import { Catalogue } from '../../model/data/catalogue.ts';
import { resolveOptions, type DailyPicksOptions } from '../../daily-picks/options.ts';
import type { TaskConnections } from '../../operators/connections.ts';
import {
  extractStep,
  heuristicsStep,
  publishStep,
  rowsStep,
  type ModelRanking,
  type StepContext,
} from '../../daily-picks/steps.ts';
import { errorHandler } from '../../web/http.ts';
import { picksRouter } from '../../web/picks-api.ts';
import { createTestDatabase } from './database.ts';
import { REDIS_URL } from './harness.ts';
import { DAY_MS } from '../../model/data/time.ts';

export { DAY_MS };

/** `YYYY-MM-DDT00:00Z` plus `days`. */
export function day(iso: string, days = 0, hours = 0): Date {
  return new Date(Date.parse(`${iso}T00:00:00.000Z`) + days * DAY_MS + hours * 3_600_000);
}

/**
 * One test file's Daily Picks world: a fresh migrated database, a unique Redis prefix, a temp
 * artifacts folder, all exported to `process.env` (DATABASE_URL, REDIS_URL, ARTIFACTS_DIR,
 * FLYWHEEL_QUEUE_PREFIX) so that tasks (sandboxed ones inherit the env) use them too.
 */
export class PicksWorld {
  private constructor(
    readonly databaseUrl: string,
    readonly prefix: string,
    readonly artifactsDir: string,
    readonly connection: DatabaseConnection,
    readonly redis: Redis,
    private readonly dropDatabase: () => Promise<void>,
    /** False when joining someone else's prefix (a Harness's): its owner removes the keys. */
    private readonly ownsPrefix: boolean,
  ) {}

  /**
   * A new world; pass `databaseUrl` / `prefix` to join a Harness's database and prefix (then
   * `close` leaves both to the Harness).
   */
  static async create(options: { databaseUrl?: string; prefix?: string } = {}): Promise<PicksWorld> {
    let databaseUrl = options.databaseUrl;
    let drop: () => Promise<void> = async () => undefined;
    if (!databaseUrl) {
      const database = await createTestDatabase();
      databaseUrl = database.url;
      drop = database.drop;
    }
    const prefix = options.prefix ?? `fwpicks-${randomUUID().slice(0, 8)}`;
    const artifactsDir = await mkdtemp(path.join(os.tmpdir(), 'flywheel-picks-'));
    process.env.DATABASE_URL = databaseUrl;
    process.env.REDIS_URL = REDIS_URL;
    process.env.ARTIFACTS_DIR = artifactsDir;
    process.env.FLYWHEEL_QUEUE_PREFIX = prefix;
    const connection = connectDatabase(databaseUrl, 6);
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    return new PicksWorld(databaseUrl, prefix, artifactsDir, connection, redis, drop, options.prefix === undefined);
  }

  get db() {
    return this.connection.db;
  }

  get pool(): pg.Pool {
    return this.connection.pool;
  }

  /** The resources a step gets (this world's connections; not closed by the steps). */
  get resources(): TaskConnections {
    return { config: loadConfig(), db: this.db, pool: this.pool, redis: this.redis };
  }

  async query<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
    return (await this.pool.query<T>(text, values)).rows;
  }

  /** Environment for a child process (the CLI) that should use this world. */
  childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      DATABASE_URL: this.databaseUrl,
      REDIS_URL,
      ARTIFACTS_DIR: this.artifactsDir,
      FLYWHEEL_QUEUE_PREFIX: this.prefix,
      FLYWHEEL_LOG_LEVEL: 'warn',
      ...extra,
    };
  }

  async close(): Promise<void> {
    try {
      const keys = this.ownsPrefix ? await this.redis.keys(`${this.prefix}:*`) : [];
      if (keys.length > 0) await this.redis.del(...keys);
    } finally {
      this.redis.disconnect();
      await this.connection.close();
      await this.dropDatabase();
      await rm(this.artifactsDir, { recursive: true, force: true });
    }
  }
}

/** A step context for a run covering `[start, end)`. */
export function stepContext(runId: string, interval: { start: Date; end: Date }, options: Partial<DailyPicksOptions> = {}, dagId = 'daily_picks'): StepContext {
  return { dagId, runId, dataInterval: interval, options: resolveOptions(options), log: () => undefined };
}

/** extract → heuristics → filter rows (→ publish): the pipeline's steps in order, without the scheduler. */
export async function runSteps(
  world: PicksWorld,
  step: StepContext,
  options: { model?: (extract: Awaited<ReturnType<typeof extractStep>>) => Promise<ModelRanking | null>; publish?: boolean } = {},
) {
  const resources = world.resources;
  const extract = await extractStep(resources, step);
  const heuristics = await heuristicsStep(resources, step, extract);
  const model = options.model ? await options.model(extract) : null;
  const rows = await rowsStep(resources, step, { extract, heuristics, model });
  const publish = options.publish === false ? null : await publishStep(resources, step, rows);
  return { extract, heuristics, rows, publish };
}

// --- hand-built source data -------------------------------------------------------------

export interface ClassSpec {
  id: string;
  discipline?: string | null;
  duration?: number | null;
  instructor?: string | null;
  airedAt?: Date | null;
  encore?: boolean;
  title?: string;
}

export interface WorkoutSpec {
  member: string;
  cls: string;
  at: Date;
}

/** Inserts instructors (id = name unless given as `id:name`), classes, members and workouts. */
export async function insertSource(
  world: PicksWorld,
  data: { instructors?: string[]; classes?: ClassSpec[]; members?: { id: string; signupAt?: Date | null }[]; workouts?: WorkoutSpec[] },
): Promise<void> {
  const { instructors = [], classes = [], members = [], workouts = [] } = data;
  if (instructors.length > 0) {
    await world.pool.query(`insert into source.instructor (instructor_id, name) select * from unnest($1::text[], $2::text[]) on conflict do nothing`, [
      instructors.map((i) => i.split(':')[0]!),
      instructors.map((i) => i.split(':')[1] ?? i),
    ]);
  }
  if (classes.length > 0) {
    await world.pool.query(
      `insert into source.class (class_id, title, discipline, duration_min, instructor_id, aired_at, is_encore)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::timestamptz[], $7::bool[])`,
      [
        classes.map((c) => c.id),
        classes.map((c) => c.title ?? `Class ${c.id}`),
        classes.map((c) => (c.discipline === undefined ? 'cycling' : c.discipline)),
        classes.map((c) => (c.duration === undefined ? 30 : c.duration)),
        classes.map((c) => (c.instructor === undefined ? null : c.instructor)),
        classes.map((c) => (c.airedAt === undefined ? new Date('2026-01-01T00:00:00Z') : c.airedAt)),
        classes.map((c) => c.encore ?? false),
      ],
    );
  }
  if (members.length > 0) {
    await world.pool.query(`insert into source.member (member_id, signup_at) select * from unnest($1::text[], $2::timestamptz[])`, [
      members.map((m) => m.id),
      members.map((m) => (m.signupAt === undefined ? new Date('2025-01-01T00:00:00Z') : m.signupAt)),
    ]);
  }
  if (workouts.length > 0) await insertWorkouts(world, workouts);
}

export async function insertWorkouts(world: PicksWorld, workouts: WorkoutSpec[]): Promise<void> {
  await world.pool.query(`insert into source.workout (member_id, class_id, started_at, completion) select m, c, s, 1 from unnest($1::text[], $2::text[], $3::timestamptz[]) as u(m, c, s)`, [
    workouts.map((w) => w.member),
    workouts.map((w) => w.cls),
    workouts.map((w) => w.at),
  ]);
}

/** A catalogue built by hand (no I/O), for unit tests. Defaults: cycling, 30 min, no instructor, aired 2026-01-01. */
export function handCatalogue(classes: ClassSpec[]): Catalogue {
  return Catalogue.fromColumns({
    ids: classes.map((c) => c.id),
    titles: classes.map((c) => c.title ?? `Class ${c.id}`),
    disciplineNames: classes.map((c) => (c.discipline === undefined ? 'cycling' : c.discipline)),
    durations: classes.map((c) => (c.duration === undefined ? 30 : (c.duration ?? -1))),
    instructorIds: classes.map((c) => c.instructor ?? null),
    instructorNamesByClass: classes.map((c) => c.instructor ?? null),
    languages: classes.map(() => 'en'),
    aired: classes.map((c) => (c.airedAt === null ? Number.NaN : (c.airedAt ?? new Date('2026-01-01T00:00:00Z')).getTime())),
    encore: classes.map((c) => c.encore ?? false),
  });
}

// --- the picks API ----------------------------------------------------------------------

/** The picks serving API alone (as `flywheel web` mounts it), on a free loopback port. */
export async function startPicksApi(world: PicksWorld): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.use('/api/v1', picksRouter({ db: world.db, redis: world.redis, cachePrefix: world.prefix }));
  app.use(errorHandler(() => undefined));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The published picks of one member from the `picks` table: row → class ids in position order. */
export async function publishedRows(world: PicksWorld, memberId: string): Promise<Map<string, { classId: string; score: number; reason: string; modelVersion: string }[]>> {
  const rows = await world.query<{ row: string; class_id: string; score: number; reason: string; model_version: string }>(
    'select row, class_id, score, reason, model_version from picks where member_id = $1 order by row, position',
    [memberId],
  );
  const out = new Map<string, { classId: string; score: number; reason: string; modelVersion: string }[]>();
  for (const r of rows) {
    let list = out.get(r.row);
    if (!list) out.set(r.row, (list = []));
    list.push({ classId: r.class_id, score: Number(r.score), reason: r.reason, modelVersion: r.model_version });
  }
  return out;
}
