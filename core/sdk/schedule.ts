import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { DateTime, IANAZone } from 'luxon';

/** Cron presets as Airflow spells them. */
export const SCHEDULE_PRESETS: Readonly<Record<string, string>> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

/** A data interval: a run with logical date `start` covers [start, end). */
export interface DataInterval {
  start: Date;
  end: Date;
}

/** Returns the cron expression for a schedule string, or throws a message saying what is wrong. */
export function cronExpressionFor(schedule: string): string {
  const trimmed = schedule.trim();
  if (trimmed.startsWith('@')) {
    const expr = SCHEDULE_PRESETS[trimmed];
    if (!expr) throw new Error(`unknown schedule preset ${JSON.stringify(schedule)} (known: ${Object.keys(SCHEDULE_PRESETS).join(', ')})`);
    return expr;
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) {
    throw new Error(`cron schedule ${JSON.stringify(schedule)} must have 5 fields (minute hour day-of-month month day-of-week), not ${fields.length}`);
  }
  try {
    CronExpressionParser.parse(trimmed, { strict: false });
  } catch (error) {
    throw new Error(`cron schedule ${JSON.stringify(schedule)} is invalid: ${(error as Error).message}`, { cause: error });
  }
  return trimmed;
}

export function assertTimezone(timezone: string): void {
  if (!IANAZone.isValidZone(timezone)) throw new Error(`timezone ${JSON.stringify(timezone)} is not an IANA timezone (e.g. 'UTC', 'America/New_York')`);
}

/** Parses a start date; a date or date-time without an offset is read in `timezone`, as Airflow does. */
export function parseDateInZone(value: string | Date, timezone: string): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new Error('date is invalid');
    return value;
  }
  const parsed = DateTime.fromISO(value, { zone: timezone, setZone: false });
  if (!parsed.isValid) throw new Error(`date ${JSON.stringify(value)} is not ISO 8601 (${parsed.invalidExplanation ?? parsed.invalidReason})`);
  return parsed.toJSDate();
}

/**
 * A cron schedule in a timezone, with Airflow's cron timetable semantics: the run whose
 * logical date is a tick `t` covers [t, next tick) and may start once that interval ends.
 */
export class CronTimetable {
  readonly expression: string;

  constructor(
    schedule: string,
    readonly timezone: string,
  ) {
    assertTimezone(timezone);
    this.expression = cronExpressionFor(schedule);
  }

  private iterator(currentDate: Date): CronExpression {
    return CronExpressionParser.parse(this.expression, { currentDate, tz: this.timezone });
  }

  /** The first tick strictly after `date`. */
  nextTick(date: Date): Date {
    return this.iterator(date).next().toDate();
  }

  /** The last tick strictly before `date`. */
  previousTick(date: Date): Date {
    return this.iterator(date).prev().toDate();
  }

  /** The first tick at or after `date`. */
  alignUp(date: Date): Date {
    return this.nextTick(new Date(date.getTime() - 1));
  }

  intervalFor(logicalDate: Date): DataInterval {
    return { start: logicalDate, end: this.nextTick(logicalDate) };
  }

  /** The newest interval that has fully ended at `now`. */
  latestCompleteInterval(now: Date): DataInterval {
    const end = this.alignUp(now).getTime() === now.getTime() ? now : this.previousTick(now);
    return { start: this.previousTick(end), end };
  }

  /** Every interval whose logical date lies in [from, to] (both inclusive). */
  intervalsBetween(from: Date, to: Date, limit = 100_000): DataInterval[] {
    const intervals: DataInterval[] = [];
    let tick = this.alignUp(from);
    while (tick.getTime() <= to.getTime()) {
      if (intervals.length >= limit) throw new Error(`more than ${limit} intervals between ${from.toISOString()} and ${to.toISOString()}`);
      const interval = this.intervalFor(tick);
      intervals.push(interval);
      tick = interval.end;
    }
    return intervals;
  }

  /**
   * The logical date of the next run to create, given the last created one (or none).
   * Without catchup, intervals older than the latest complete one are skipped.
   */
  nextLogicalDate(options: { last: Date | null; startDate: Date; catchup: boolean; now: Date }): Date {
    const { last, startDate, catchup, now } = options;
    let candidate = last ? this.nextTick(last) : this.alignUp(startDate);
    if (!catchup) {
      const latest = this.latestCompleteInterval(now).start;
      if (latest.getTime() > candidate.getTime()) candidate = latest;
    }
    return candidate;
  }
}
