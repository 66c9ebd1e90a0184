/**
 * The day partitions of the feedback tables (impression, event, conversion; migration 0011):
 * created before the first write of a day — there is no default partition, so a row of a day
 * without one is an error — and dropped past the retention.
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../../core/db/client.ts';
import { DAY_MS, utcDay } from '../../model/data/time.ts';

/** `day` (`YYYY-MM-DD`) plus `days`. */
export function addDays(day: string, days: number): string {
  return utcDay(Date.parse(`${day}T00:00:00.000Z`) + days * DAY_MS);
}

/**
 * Days already ensured, per database handle: a writer calls `ensureFeedbackPartitions` before
 * every batch, and all but the first call of a day cost nothing. Per handle, because a process
 * (tests, the bench) may talk to several databases.
 */
const ensured = new WeakMap<Database, Set<string>>();

/**
 * Creates the partitions of every day from `fromDay` to `toDay` (inclusive, `YYYY-MM-DD`) that
 * this process has not ensured yet, with `feedback.ensure_partitions` (idempotent and safe when
 * other processes do the same at once). Call it outside the transaction that writes the rows:
 * creating a partition locks its parent table until commit.
 */
export async function ensureFeedbackPartitions(db: Database, fromDay: string, toDay: string): Promise<void> {
  if (fromDay > toDay) return;
  let days = ensured.get(db);
  if (!days) ensured.set(db, (days = new Set()));
  let first: string | null = null;
  let last: string | null = null;
  for (let day = fromDay; day <= toDay; day = addDays(day, 1)) {
    if (days.has(day)) continue;
    first ??= day;
    last = day;
  }
  if (first === null || last === null) return;
  await db.execute(sql`select feedback.ensure_partitions(${first}::date, ${last}::date)`);
  for (let day = first; day <= last; day = addDays(day, 1)) days.add(day);
}

/** The first day kept with `retentionDays` of retention at `now`: partitions of earlier days go. */
export function retentionStart(now: Date, retentionDays: number): string {
  return utcDay(now.getTime() - retentionDays * DAY_MS);
}

/**
 * Drops the feedback partitions of days before `now − retentionDays` (UTC days); returns how
 * many partitions were dropped (each day has one per table).
 */
export async function dropExpiredFeedback(db: Database, options: { now: Date; retentionDays: number }): Promise<number> {
  if (!Number.isInteger(options.retentionDays) || options.retentionDays < 1) {
    throw new RangeError(`retentionDays must be a positive integer, not ${options.retentionDays}`);
  }
  const before = retentionStart(options.now, options.retentionDays);
  const result = await db.execute<{ dropped: number }>(sql`select feedback.drop_partitions_before(${before}::date) as dropped`);
  // This process's memory of ensured days must not claim the dropped ones still exist.
  const days = ensured.get(db);
  if (days) for (const day of [...days]) if (day < before) days.delete(day);
  return Number(result.rows[0]?.dropped ?? 0);
}
