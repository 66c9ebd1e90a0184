/**
 * `flywheel seed`: generates a connected-fitness platform (seed-model.ts) and loads it into
 * `source.*` in one transaction, streaming workouts in chunks through multi-row
 * `insert … select … from unnest(…)` statements.
 */
import type pg from 'pg';
import { inClientTransaction, type TransactionClient } from '../../core/db/transaction.ts';
import { auditSourceWrite, type SourceAudit } from './audit.ts';
import { SourceInputError } from './errors.ts';
import {
  DIFFICULTIES,
  LANGUAGES,
  DISCIPLINES,
  TIMEZONES,
  OffsetTable,
  buildCatalogue,
  buildMember,
  emptyWorkouts,
  minimumClasses,
  simulateMember,
  windowStartMs,
  type SeedModelOptions,
  type WorkoutColumns,
} from './seed-model.ts';

export interface SeedOptions {
  members: number;
  classes: number;
  days: number;
  /** Default 1. */
  seed?: number;
  /** End of the window (exclusive). Default: today 00:00 UTC. */
  until?: Date;
  /** Empty the source tables first (in the same transaction). */
  replace?: boolean;
  /** Rows per insert statement (default 20,000). */
  batchSize?: number;  /** Record the seed in the audit log as this actor, in the same transaction. */
  audit?: SourceAudit;
}

export interface SeedSummary {
  seed: number;
  until: string;
  windowStart: string;
  days: number;
  members: number;
  instructors: number;
  classes: number;
  workouts: number;
  /** Members by kind: cold start (no workouts), inactive (stopped 60+ days before `until`), … */
  memberKinds: Record<string, number>;
  replaced: boolean;
  seconds: number;
}

/** Today 00:00 UTC. */
export function todayUtc(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

const SOURCE_TABLES = ['source.workout', 'source.class', 'source.instructor', 'source.member'] as const;

export function validateSeedOptions(options: SeedOptions): SeedModelOptions {
  const bad: string[] = [];
  for (const key of ['members', 'classes', 'days'] as const) {
    const v = options[key];
    if (!Number.isInteger(v) || v < 1) bad.push(`--${key} must be a positive integer (got ${v})`);
  }
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) bad.push(`--seed must be an integer from 0 to 4294967295 (got ${seed})`);
  const until = options.until ?? todayUtc();
  if (Number.isNaN(until.getTime())) bad.push('--until is not a date');
  if (bad.length === 0 && options.classes < minimumClasses(options.days)) {
    bad.push(`--classes must be at least ${minimumClasses(options.days)} for --days ${options.days} (new classes air every day of the window, plus a back catalogue)`);
  }
  if (bad.length > 0) throw new SourceInputError(bad.join('; '));
  return { members: options.members, classes: options.classes, days: options.days, seed: seed | 0, until };
}

async function sourceCounts(client: TransactionClient): Promise<Record<string, boolean>> {
  const { rows } = await client.query<Record<string, boolean>>(
    `select exists(select 1 from source.member) as member, exists(select 1 from source.instructor) as instructor,
            exists(select 1 from source.class) as class, exists(select 1 from source.workout) as workout`,
  );
  return rows[0]!;
}

/** Generates the dataset for `options` and loads it. Throws SourceInputError on bad options or non-empty tables (without `replace`). */
export async function seedSource(pool: pg.Pool, options: SeedOptions): Promise<SeedSummary> {
  const model = validateSeedOptions(options);
  const began = performance.now();
  const batchSize = options.batchSize ?? 20_000;
  // Generating is deterministic, so a transaction PostgreSQL aborted for a deadlock simply runs again.
  const { catalogue, kinds, workouts } = await inClientTransaction(pool, async (client) => {
    if (options.replace) {
      await client.query(`truncate ${SOURCE_TABLES.join(', ')} restart identity`);
    } else {
      // Lock out a concurrent seed/import between the check and the load.
      await client.query(`lock table ${SOURCE_TABLES.join(', ')} in share row exclusive mode`);
      const present = await sourceCounts(client);
      const filled = Object.entries(present).filter(([, v]) => v).map(([k]) => `source.${k}`);
      if (filled.length > 0) {
        throw new SourceInputError(`${filled.join(', ')} already hold data: pass --replace to empty the source tables first (seeding on top would mix two datasets)`, {
          nonEmpty: filled,
        });
      }
    }
    const catalogue = buildCatalogue(model);
    // Instructors and classes (small: one statement per batch).
    await client.query(`insert into source.instructor (instructor_id, name) select * from unnest($1::text[], $2::text[])`, [
      catalogue.instructors.map((i) => i.id),
      catalogue.instructors.map((i) => i.name),
    ]);
    for (let from = 0; from < catalogue.count; from += batchSize) {
      const to = Math.min(catalogue.count, from + batchSize);
      const idx = Array.from({ length: to - from }, (_, k) => from + k);
      await client.query(
        `insert into source.class (class_id, title, discipline, duration_min, instructor_id, language, difficulty, aired_at, is_encore)
         select c, t, d, m, i, l, f, to_timestamp(a), e
         from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::bool[]) as u(c, t, d, m, i, l, f, a, e)`,
        [
          idx.map((i) => catalogue.id[i]!),
          idx.map((i) => catalogue.title[i]!),
          idx.map((i) => DISCIPLINES[catalogue.discipline[i]!]!.name),
          idx.map((i) => catalogue.durationMin[i]!),
          idx.map((i) => catalogue.instructors[catalogue.instructor[i]!]!.id),
          idx.map((i) => LANGUAGES[catalogue.language[i]!]!),
          idx.map((i) => DIFFICULTIES[catalogue.difficulty[i]!]!),
          idx.map((i) => catalogue.airedMs[i]! / 1000),
          idx.map((i) => catalogue.isEncore[i] === 1),
        ],
      );
    }
    // Members and their workouts, a chunk at a time; one insert in flight while the next chunk is generated.
    const offsets = new OffsetTable(windowStartMs(model), model.days);
    const kinds: Record<string, number> = { active: 0, new: 0, cold: 0, inactive: 0, churned: 0 };
    let workouts = 0;
    let pending: Promise<unknown> = Promise.resolve();
    let buffer: WorkoutColumns = emptyWorkouts();
    let memberBuffer = { id: [] as string[], signup: [] as number[], tz: [] as string[] };
    const flushWorkouts = async () => {
      const batch = buffer;
      buffer = emptyWorkouts();
      await pending;
      pending = client.query(
        `insert into source.workout (member_id, class_id, started_at, completion)
         select m, c, to_timestamp(s), p from unnest($1::text[], $2::text[], $3::float8[], $4::real[]) as u(m, c, s, p)`,
        [batch.memberId, batch.classId, batch.startedAt, batch.completion],
      );
      // Surface a failure at the next await rather than as an unhandled rejection.
      pending.catch(() => undefined);
    };
    const flushMembers = async () => {
      const batch = memberBuffer;
      memberBuffer = { id: [], signup: [], tz: [] };
      await pending;
      pending = client.query(
        `insert into source.member (member_id, signup_at, timezone) select m, to_timestamp(s), z from unnest($1::text[], $2::float8[], $3::text[]) as u(m, s, z)`,
        [batch.id, batch.signup, batch.tz],
      );
      pending.catch(() => undefined);
    };
    for (let i = 0; i < model.members; i += 1) {
      const member = buildMember(model, catalogue, i);
      kinds[member.kind] = (kinds[member.kind] ?? 0) + 1;
      memberBuffer.id.push(member.id);
      memberBuffer.signup.push(Math.floor(member.signupMs / 1000));
      memberBuffer.tz.push(TIMEZONES[member.timezone]!.zone);
      workouts += simulateMember(model, catalogue, offsets, member, buffer);
      if (memberBuffer.id.length >= batchSize) await flushMembers();
      if (buffer.memberId.length >= batchSize) await flushWorkouts();
    }
    if (memberBuffer.id.length > 0) await flushMembers();
    if (buffer.memberId.length > 0) await flushWorkouts();
    await pending;
    await auditSourceWrite(client, options.audit, 'source.seed', 'source', {
      members: model.members,
      instructors: catalogue.instructors.length,
      classes: catalogue.count,
      workouts,
      days: model.days,
      seed: model.seed >>> 0,
      until: model.until.toISOString(),
      replaced: Boolean(options.replace),
    });
    return { catalogue, kinds, workouts };
  });
  await pool.query('analyze source.member, source.instructor, source.class, source.workout');
  return {
    seed: model.seed >>> 0,
    until: model.until.toISOString(),
    windowStart: new Date(windowStartMs(model)).toISOString(),
    days: model.days,
    members: model.members,
    instructors: catalogue.instructors.length,
    classes: catalogue.count,
    workouts,
    memberKinds: kinds,
    replaced: Boolean(options.replace),
    seconds: Math.round((performance.now() - began) / 10) / 100,
  };
}
