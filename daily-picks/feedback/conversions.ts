/**
 * Conversions: a workout of a class that was shown to the member, attributed to the impression it
 * followed. Run by the daily run (and safe to run as often as liked): a workout converts at most
 * once (primary key day, workout_id), so running attribution again never counts it twice.
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../../core/db/client.ts';
import { utcDay } from '../../model/data/time.ts';
import { ensureFeedbackPartitions } from './partitions.ts';

const HOUR_MS = 3_600_000;

export interface AttributeOptions {
  /** Workouts started before this moment are attributed (the run's data clock). */
  until: Date;
  /**
   * Workouts started in the `lookbackHours` before `until` are looked at: a run that failed
   * yesterday is caught up by today's.
   * @defaultValue 72
   */
  lookbackHours?: number;
  /**
   * A workout counts for an impression when it started within this many hours of it (and before
   * the next publication replaced what was shown).
   * @defaultValue 24
   */
  windowHours?: number;
}

export interface AttributeResult {
  /** Conversions stored by this call (workouts attributed before are not counted again). */
  conversions: number;
  /** Workouts that started in the lookback. */
  workoutsScanned: number;
}

/**
 * Attributes the workouts started in [until − lookback, until) to the latest impression of the
 * same member and class with served_at ≤ started_at < min(served_at + window, published_at of the
 * next publication after the impression's); ties go to the lower position. One statement.
 *
 * The next publication bounds the window only when it was published after the impression was
 * served: when the two clocks disagree (a simulation serves simulated days while publications
 * carry the wall time), the window alone bounds it.
 */
export async function attributeConversions(db: Database, options: AttributeOptions): Promise<AttributeResult> {
  const lookbackHours = options.lookbackHours ?? 72;
  const windowHours = options.windowHours ?? 24;
  if (!(lookbackHours > 0) || !(windowHours > 0)) throw new RangeError('lookbackHours and windowHours must be positive');
  const untilMs = options.until.getTime();
  const fromMs = untilMs - lookbackHours * HOUR_MS;
  // Conversions are stored under the workout's day.
  await ensureFeedbackPartitions(db, utcDay(fromMs), utcDay(untilMs - 1));
  const from = new Date(fromMs).toISOString();
  const until = new Date(untilMs).toISOString();
  // Impressions that can explain these workouts were served at most a window before the first;
  // the day bounds let PostgreSQL read only those partitions.
  const firstDay = utcDay(fromMs - windowHours * HOUR_MS);
  const lastDay = utcDay(untilMs);
  const window = `${windowHours} hours`;
  const result = await db.execute<{ conversions: number; scanned: number }>(sql`
    with workouts as (
      select w.workout_id, w.member_id, w.class_id, w.started_at
      from source.workout w
      where w.started_at >= ${from}::timestamptz and w.started_at < ${until}::timestamptz
    ), next_publication as (
      select id, min(published_at) over (order by id rows between 1 following and unbounded following) as next_at
      from picks_publication where status <> 'staged'
    ), attributed as (
      select distinct on (w.workout_id)
        w.workout_id, w.member_id, w.class_id, w.started_at,
        i.served_at, i.row, i.position, i.publication_id, i.model_version, i.experiment_key, i.variant
      from workouts w
      join feedback.impression i
        on i.member_id = w.member_id and i.class_id = w.class_id
        and i.day >= ${firstDay}::date and i.day <= ${lastDay}::date
        and i.served_at <= w.started_at and w.started_at < i.served_at + ${window}::interval
      left join next_publication np on np.id = i.publication_id
      where np.next_at is null or np.next_at <= i.served_at or w.started_at < np.next_at
      order by w.workout_id, i.served_at desc, i.position asc, i.row asc
    ), inserted as (
      insert into feedback.conversion (day, workout_id, member_id, class_id, started_at, served_at, row, position, publication_id, model_version, experiment_key, variant)
      select (started_at at time zone 'UTC')::date, workout_id, member_id, class_id, started_at, served_at, row, position, publication_id, model_version, experiment_key, variant
      from attributed
      on conflict do nothing
      returning 1
    )
    select (select count(*) from inserted)::int as conversions, (select count(*) from workouts)::int as scanned`);
  const row = result.rows[0]!;
  return { conversions: Number(row.conversions), workoutsScanned: Number(row.scanned) };
}
