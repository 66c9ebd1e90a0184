import { mkdir, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { sql } from 'drizzle-orm';
import type pg from 'pg';
import type { Database } from '../core/db/client.ts';
import { sqlToArrow } from '../operators/sql-to-arrow.ts';
import { ArtifactPaths } from './paths.ts';
import { DAY_MS, dataClock, utcDay } from '../model/data/time.ts';

export interface ExtractRequest {
  paths: ArtifactPaths;
  runId: string;
  /** The run's data interval; its days are always extracted again (late data lands there). */
  interval: { start: Date; end: Date };
  /** Days before `interval.end` to keep; `null` = all history. */
  historyWindowDays: number | null;
  /** Rows per FETCH from the server-side cursor. @defaultValue 20000 */
  fetchSize?: number;
  log?: (message: string) => void;
}

export type ExtractResult = {
  /** History is read up to (not including) this instant. */
  asOf: string;
  /**
   * The last interaction before `asOf` (ISO 8601), null without one: where `dataClock` puts the
   * clock of decays and windows when the data ended long before the as-of time.
   */
  dataEnd: string | null;
  workoutsDir: string;
  classesFile: string;
  membersFile: string;
  classes: number;
  members: number;
  /** Days written by this run, days whose partition was already current, days removed. */
  daysExtracted: number;
  daysUnchanged: number;
  daysRemoved: number;
  rowsExtracted: number;
  historyRows: number;
};

interface DayStats {
  rows: number;
  maxWorkoutId: number;
  checksum: string;
}

type Manifest = Record<string, DayStats & { extractedAt: string }>;

async function readManifest(file: string): Promise<Manifest> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Manifest;
  } catch {
    return {};
  }
}

/**
 * Extracts workout history into one Arrow file per UTC day, incrementally: the days of the
 * data interval are always re-read; an older day is re-read only when its row count or
 * highest workout id changed in the source (late or re-imported data), and a day gone from
 * the source is removed. Rows stream through a server-side cursor into Arrow (`sqlToArrow`), one
 * day at a time.
 * Also snapshots the classes that had aired by the as-of time and the members.
 */
export async function extractHistory(db: Database, pool: pg.Pool, request: ExtractRequest): Promise<ExtractResult> {
  const { paths } = request;
  const asOf = request.interval.end;
  const last = await db.execute<{ data_end: number | null }>(sql`select (extract(epoch from max(started_at)) * 1000)::float8 as data_end from source.workout where started_at < ${asOf}`);
  const dataEnd = last.rows[0]?.data_end ?? null;
  // The window counts back from the data's clock, not the wall clock: data that ended years ago still has a window.
  const clock = dataClock(asOf.getTime(), dataEnd === null ? null : Number(dataEnd));
  // Whole days: the window's first day is extracted whole (History cuts it at the exact start),
  // so its stats must count the whole day too, or it would look changed on every run.
  const from = request.historyWindowDays === null ? null : new Date(Math.floor((clock - request.historyWindowDays * DAY_MS) / DAY_MS) * DAY_MS);
  const log = request.log ?? (() => undefined);

  // Per day: row count, highest id and a content checksum, so a re-import (ids restart) or an
  // edited row is noticed. Read before the days are extracted: rows that land in between make
  // the stored stats differ from the source next time, so the day is read again, never skipped.
  const stats = await db.execute<{ day: string; rows: number; max_workout_id: number; checksum: string }>(sql`
    select to_char(started_at at time zone 'UTC', 'YYYY-MM-DD') as day, count(*)::int as rows, max(workout_id) as max_workout_id,
           sum(hashtextextended(member_id || ' ' || class_id || ' ' || coalesce(completion::text, ''), (extract(epoch from started_at) * 1000)::bigint))::text as checksum
    from source.workout
    where started_at < ${asOf} ${from ? sql`and started_at >= ${from}` : sql``}
    group by 1 order by 1`);
  const sourceDays = new Map<string, DayStats>(stats.rows.map((r) => [r.day, { rows: Number(r.rows), maxWorkoutId: Number(r.max_workout_id), checksum: r.checksum }]));
  const intervalDays = new Set<string>();
  for (let t = Date.UTC(request.interval.start.getUTCFullYear(), request.interval.start.getUTCMonth(), request.interval.start.getUTCDate()); t < asOf.getTime(); t += DAY_MS) {
    intervalDays.add(utcDay(new Date(t)));
  }

  const manifest = await readManifest(paths.workoutsManifest);
  let daysExtracted = 0;
  let daysUnchanged = 0;
  let daysRemoved = 0;
  let rowsExtracted = 0;
  let historyRows = 0;
  for (const [day, dayStats] of sourceDays) {
    historyRows += dayStats.rows;
    const known = manifest[day];
    const current =
      known && known.rows === dayStats.rows && known.maxWorkoutId === dayStats.maxWorkoutId && known.checksum === dayStats.checksum && !intervalDays.has(day);
    if (current) {
      daysUnchanged += 1;
      continue;
    }
    const dayStart = new Date(`${day}T00:00:00.000Z`);
    // Always the whole day as the source has it now: History keeps only what is before its own
    // as-of time, and partitions are shared by runs with other as-of times (cut at this run's,
    // an older interval run again would cut short a day that a later run reads).
    const dayEnd = new Date(dayStart.getTime() + DAY_MS);
    const written = await extractDay(pool, paths.workoutPartition(day), dayStart, dayEnd, request.fetchSize);
    manifest[day] = { ...dayStats, extractedAt: new Date().toISOString() };
    daysExtracted += 1;
    rowsExtracted += written;
  }
  for (const day of Object.keys(manifest)) {
    if (sourceDays.has(day)) continue;
    // A day starting at or after the as-of time is not missing from the source, only later than
    // this run (a backfill, or a past run cleared): it stays for the runs that read it.
    if (Date.parse(`${day}T00:00:00.000Z`) >= asOf.getTime()) continue;
    await rm(paths.workoutPartition(day), { force: true });
    delete manifest[day];
    daysRemoved += 1;
  }
  // Partitions of days outside the window stay on disk only if the manifest knows them.
  for (const name of await readdir(paths.workoutsDir).catch(() => [] as string[])) {
    const match = /^day=(\d{4}-\d{2}-\d{2})\.arrow$/.exec(name);
    if (match && !manifest[match[1]!]) await rm(paths.workoutPartition(match[1]!), { force: true });
  }
  // No partition written (no workouts before the as-of time yet): the folder may not exist.
  await mkdir(paths.workoutsDir, { recursive: true });
  await writeFile(paths.workoutsManifest, `${JSON.stringify(manifest, null, 1)}\n`);
  log(`workouts: ${daysExtracted} day(s) extracted (${rowsExtracted} rows), ${daysUnchanged} unchanged, ${daysRemoved} removed; ${historyRows} rows of history before ${asOf.toISOString()}`);

  const classesFile = paths.runFile(request.runId, 'classes.arrow');
  const membersFile = paths.runFile(request.runId, 'members.arrow');
  const classes = await snapshotClasses(pool, classesFile, asOf, request.fetchSize);
  const members = await snapshotMembers(pool, membersFile, asOf, request.fetchSize);
  log(`catalogue: ${classes} classes aired before ${asOf.toISOString()}; ${members} members`);
  return {
    asOf: asOf.toISOString(),
    dataEnd: dataEnd === null ? null : new Date(Number(dataEnd)).toISOString(),
    workoutsDir: paths.workoutsDir,
    classesFile,
    membersFile,
    classes,
    members,
    daysExtracted,
    daysUnchanged,
    daysRemoved,
    rowsExtracted,
    historyRows,
  };
}

/** Writes one day's workouts to `file`; returns the row count. */
async function extractDay(pool: pg.Pool, file: string, start: Date, end: Date, fetchSize: number | undefined): Promise<number> {
  const { rows } = await sqlToArrow({
    pool,
    query: `select member_id, class_id, (extract(epoch from started_at) * 1000)::float8 as started_at, completion
            from source.workout where started_at >= $1 and started_at < $2 order by started_at, workout_id`,
    values: [start, end],
    columns: { member_id: 'utf8', class_id: 'utf8', started_at: 'float64', completion: 'float32' },
    file,
    fetchSize,
  });
  return rows;
}

/** The classes that had aired by `asOf` (or have no air date), with their instructor's name. */
async function snapshotClasses(pool: pg.Pool, file: string, asOf: Date, fetchSize: number | undefined): Promise<number> {
  const { rows } = await sqlToArrow({
    pool,
    query: `select c.class_id, c.title, c.discipline, c.duration_min, c.instructor_id, coalesce(i.name, c.instructor_id) as instructor_name, c.language, c.difficulty,
                   (extract(epoch from c.aired_at) * 1000)::float8 as aired_at, c.is_encore
            from source.class c left join source.instructor i on i.instructor_id = c.instructor_id
            where c.aired_at is null or c.aired_at < $1
            order by c.class_id`,
    values: [asOf],
    columns: {
      class_id: 'utf8',
      title: 'utf8',
      discipline: 'utf8',
      duration_min: { type: 'int32', nullAs: -1 },
      instructor_id: 'utf8',
      instructor_name: 'utf8',
      language: 'utf8',
      difficulty: 'utf8',
      aired_at: 'float64',
      is_encore: 'bool',
    },
    file,
    fetchSize,
  });
  return rows;
}

/** The members who had signed up by `asOf`. Members known only from workouts (imported interactions) are members too. */
async function snapshotMembers(pool: pg.Pool, file: string, asOf: Date, fetchSize: number | undefined): Promise<number> {
  const { rows } = await sqlToArrow({
    pool,
    query: `select member_id, (extract(epoch from signup_at) * 1000)::float8 as signup_at from source.member
            where signup_at is null or signup_at < $1 order by member_id`,
    values: [asOf],
    columns: { member_id: 'utf8', signup_at: 'float64' },
    file,
    fetchSize,
  });
  return rows;
}
