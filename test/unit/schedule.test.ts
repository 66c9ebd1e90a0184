import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { CronTimetable, SCHEDULE_PRESETS, assertTimezone, cronExpressionFor, parseDateInZone } from '../../core/sdk/schedule.ts';

const d = (iso: string) => new Date(iso);
const iso = (date: Date) => date.toISOString();
const hours = (interval: { start: Date; end: Date }) => (interval.end.getTime() - interval.start.getTime()) / 3_600_000;
const localTime = (date: Date, zone: string) => DateTime.fromJSDate(date, { zone }).toFormat("yyyy-MM-dd'T'HH:mm ZZZZ");

describe('schedule presets', () => {
  it.each([
    ['@daily', '0 0 * * *'],
    ['@midnight', '0 0 * * *'],
    ['@hourly', '0 * * * *'],
    ['@weekly', '0 0 * * 0'],
    ['@monthly', '0 0 1 * *'],
    ['@yearly', '0 0 1 1 *'],
    ['@annually', '0 0 1 1 *'],
  ])('%s is %s', (preset, expression) => {
    expect(SCHEDULE_PRESETS[preset]).toBe(expression);
    expect(new CronTimetable(preset, 'UTC').expression).toBe(expression);
  });

  it('@daily ticks at midnight in its timezone', () => {
    const t = new CronTimetable('@daily', 'UTC');
    expect(iso(t.nextTick(d('2026-01-01T12:00:00Z')))).toBe('2026-01-02T00:00:00.000Z');
    const ny = new CronTimetable('@daily', 'America/New_York');
    expect(iso(ny.nextTick(d('2026-01-01T12:00:00Z')))).toBe('2026-01-02T05:00:00.000Z');
  });

  it('@hourly ticks on the hour', () => {
    const t = new CronTimetable('@hourly', 'UTC');
    expect(iso(t.nextTick(d('2026-01-01T12:34:56Z')))).toBe('2026-01-01T13:00:00.000Z');
    expect(t.intervalFor(d('2026-01-01T13:00:00Z'))).toEqual({ start: d('2026-01-01T13:00:00Z'), end: d('2026-01-01T14:00:00Z') });
  });

  it('rejects an unknown preset, listing the known ones', () => {
    expect(() => new CronTimetable('@every_minute', 'UTC')).toThrow(/unknown schedule preset "@every_minute".*@daily/);
  });
});

describe('cron validation', () => {
  it.each([
    ['* * * *', 4],
    ['* * * * * *', 6],
    ['0', 1],
    ['', 1],
  ])('%j is rejected for having %i fields', (schedule, count) => {
    expect(() => cronExpressionFor(schedule)).toThrow(`must have 5 fields (minute hour day-of-month month day-of-week), not ${count}`);
  });

  it.each(['61 * * * *', '0 25 * * *', '* * 32 * *', '0 0 * 13 *', '0 0 * * 8', 'a b c d e'])('%j is rejected as invalid', (schedule) => {
    expect(() => new CronTimetable(schedule, 'UTC')).toThrow(`cron schedule ${JSON.stringify(schedule)} is invalid`);
  });

  it('accepts extra whitespace and keeps the trimmed expression', () => {
    expect(new CronTimetable('  0   4 * *  * ', 'UTC').expression).toBe('0   4 * *  *');
    expect(iso(new CronTimetable('  0   4 * *  * ', 'UTC').nextTick(d('2026-01-01T00:00:00Z')))).toBe('2026-01-01T04:00:00.000Z');
  });

  it.each(['*/15 * * * *', '0 4 * * 1-5', '30 2 1,15 * *', '0 0 * * 7'])('accepts %j', (schedule) => {
    expect(new CronTimetable(schedule, 'UTC').expression).toBe(schedule);
  });
});

describe('timezones', () => {
  it('rejects a timezone that is not IANA', () => {
    expect(() => new CronTimetable('@daily', 'Mars/Olympus_Mons')).toThrow('timezone "Mars/Olympus_Mons" is not an IANA timezone');
    expect(() => assertTimezone('EST5EDT_nope')).toThrow(/not an IANA timezone/);
  });

  it.each(['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata'])('accepts %s', (zone) => {
    expect(() => assertTimezone(zone)).not.toThrow();
  });
});

describe('parseDateInZone', () => {
  it('reads a date without an offset in the given timezone', () => {
    expect(iso(parseDateInZone('2026-01-01', 'America/New_York'))).toBe('2026-01-01T05:00:00.000Z');
    expect(iso(parseDateInZone('2026-07-01', 'America/New_York'))).toBe('2026-07-01T04:00:00.000Z');
    expect(iso(parseDateInZone('2026-01-01T04:30', 'America/New_York'))).toBe('2026-01-01T09:30:00.000Z');
    expect(iso(parseDateInZone('2026-01-01', 'UTC'))).toBe('2026-01-01T00:00:00.000Z');
  });

  it('keeps an explicit offset', () => {
    expect(iso(parseDateInZone('2026-01-01T00:00:00Z', 'America/New_York'))).toBe('2026-01-01T00:00:00.000Z');
    expect(iso(parseDateInZone('2026-01-01T00:00:00+02:00', 'America/New_York'))).toBe('2025-12-31T22:00:00.000Z');
  });

  it('passes a Date through', () => {
    const date = d('2026-03-04T05:06:07Z');
    expect(parseDateInZone(date, 'America/New_York').getTime()).toBe(date.getTime());
  });

  it('rejects a string that is not ISO 8601 and an invalid Date', () => {
    expect(() => parseDateInZone('yesterday', 'UTC')).toThrow(/"yesterday" is not ISO 8601/);
    expect(() => parseDateInZone('2026-02-30', 'UTC')).toThrow(/not ISO 8601/);
    expect(() => parseDateInZone(new Date('nope'), 'UTC')).toThrow('date is invalid');
  });
});

describe('CronTimetable ticks and intervals (0 4 * * * UTC)', () => {
  const t = new CronTimetable('0 4 * * *', 'UTC');

  it('nextTick is strictly after, previousTick strictly before', () => {
    expect(iso(t.nextTick(d('2026-01-01T04:00:00Z')))).toBe('2026-01-02T04:00:00.000Z');
    expect(iso(t.nextTick(d('2026-01-01T03:59:59Z')))).toBe('2026-01-01T04:00:00.000Z');
    expect(iso(t.previousTick(d('2026-01-02T04:00:00Z')))).toBe('2026-01-01T04:00:00.000Z');
    expect(iso(t.previousTick(d('2026-01-02T04:00:01Z')))).toBe('2026-01-02T04:00:00.000Z');
  });

  it('alignUp returns a tick unchanged and moves anything else to the next tick', () => {
    expect(iso(t.alignUp(d('2026-01-01T04:00:00Z')))).toBe('2026-01-01T04:00:00.000Z');
    expect(iso(t.alignUp(d('2026-01-01T04:00:00.001Z')))).toBe('2026-01-02T04:00:00.000Z');
    expect(iso(t.alignUp(d('2026-01-01T00:00:00Z')))).toBe('2026-01-01T04:00:00.000Z');
  });

  it('intervalFor covers [logical date, next tick)', () => {
    expect(t.intervalFor(d('2026-01-01T04:00:00Z'))).toEqual({ start: d('2026-01-01T04:00:00Z'), end: d('2026-01-02T04:00:00Z') });
  });

  describe('latestCompleteInterval', () => {
    it('at a tick, the interval that ends at that tick', () => {
      expect(t.latestCompleteInterval(d('2026-01-05T04:00:00Z'))).toEqual({ start: d('2026-01-04T04:00:00Z'), end: d('2026-01-05T04:00:00Z') });
    });

    it('just after a tick, the interval that ended at it', () => {
      expect(t.latestCompleteInterval(d('2026-01-05T04:00:00.001Z'))).toEqual({ start: d('2026-01-04T04:00:00Z'), end: d('2026-01-05T04:00:00Z') });
    });

    it('just before a tick, the interval before', () => {
      expect(t.latestCompleteInterval(d('2026-01-05T03:59:59.999Z'))).toEqual({ start: d('2026-01-03T04:00:00Z'), end: d('2026-01-04T04:00:00Z') });
    });

    it('never ends after now', () => {
      for (const now of ['2026-01-05T00:00:00Z', '2026-01-05T12:00:00Z', '2026-02-28T23:59:59Z']) {
        const interval = t.latestCompleteInterval(d(now));
        expect(interval.end.getTime()).toBeLessThanOrEqual(d(now).getTime());
        expect(t.nextTick(interval.end).getTime()).toBeGreaterThan(d(now).getTime());
      }
    });
  });

  describe('intervalsBetween (catchup)', () => {
    it('gives the logical dates of every tick from 2026-01-01 to 2026-01-05', () => {
      const intervals = t.intervalsBetween(d('2026-01-01T00:00:00Z'), d('2026-01-05T00:00:00Z'));
      expect(intervals.map((i) => iso(i.start))).toEqual([
        '2026-01-01T04:00:00.000Z',
        '2026-01-02T04:00:00.000Z',
        '2026-01-03T04:00:00.000Z',
        '2026-01-04T04:00:00.000Z',
      ]);
      expect(iso(intervals.at(-1)!.end)).toBe('2026-01-05T04:00:00.000Z');
    });

    it('includes ticks equal to from and to', () => {
      const intervals = t.intervalsBetween(d('2026-01-01T04:00:00Z'), d('2026-01-05T04:00:00Z'));
      expect(intervals.map((i) => iso(i.start))).toEqual([
        '2026-01-01T04:00:00.000Z',
        '2026-01-02T04:00:00.000Z',
        '2026-01-03T04:00:00.000Z',
        '2026-01-04T04:00:00.000Z',
        '2026-01-05T04:00:00.000Z',
      ]);
    });

    it('gives contiguous intervals of one day', () => {
      const intervals = t.intervalsBetween(d('2026-01-01T00:00:00Z'), d('2026-02-01T00:00:00Z'));
      expect(intervals).toHaveLength(31);
      intervals.forEach((interval, i) => {
        expect(hours(interval)).toBe(24);
        if (i > 0) expect(interval.start.getTime()).toBe(intervals[i - 1]!.end.getTime());
      });
    });

    it('is empty when no tick lies in the window', () => {
      expect(t.intervalsBetween(d('2026-01-01T05:00:00Z'), d('2026-01-02T03:00:00Z'))).toEqual([]);
      expect(t.intervalsBetween(d('2026-01-05T00:00:00Z'), d('2026-01-01T00:00:00Z'))).toEqual([]);
    });

    it('throws past the limit instead of building a huge list', () => {
      expect(() => t.intervalsBetween(d('2026-01-01T00:00:00Z'), d('2026-12-31T00:00:00Z'), 10)).toThrow(/more than 10 intervals/);
    });
  });

  describe('nextLogicalDate', () => {
    const startDate = d('2026-01-01T00:00:00Z');
    const now = d('2026-01-10T12:00:00Z');

    it('catchup, first run: the first tick at or after startDate, however late it is', () => {
      expect(iso(t.nextLogicalDate({ last: null, startDate, catchup: true, now }))).toBe('2026-01-01T04:00:00.000Z');
    });

    it('catchup: the tick after the last run', () => {
      expect(iso(t.nextLogicalDate({ last: d('2026-01-01T04:00:00Z'), startDate, catchup: true, now }))).toBe('2026-01-02T04:00:00.000Z');
    });

    it('catchup: a startDate on a tick is itself the first logical date', () => {
      expect(iso(t.nextLogicalDate({ last: null, startDate: d('2026-01-03T04:00:00Z'), catchup: true, now }))).toBe('2026-01-03T04:00:00.000Z');
    });

    it('no catchup, first run: the latest complete interval, skipping older ones', () => {
      // [2026-01-09T04:00, 2026-01-10T04:00) is the newest interval that ended by 2026-01-10T12:00
      expect(iso(t.nextLogicalDate({ last: null, startDate, catchup: false, now }))).toBe('2026-01-09T04:00:00.000Z');
    });

    it('no catchup, stale last run: jumps to the latest complete interval', () => {
      expect(iso(t.nextLogicalDate({ last: d('2026-01-02T04:00:00Z'), startDate, catchup: false, now }))).toBe('2026-01-09T04:00:00.000Z');
    });

    it('no catchup, up to date: the tick after the last run', () => {
      expect(iso(t.nextLogicalDate({ last: d('2026-01-09T04:00:00Z'), startDate, catchup: false, now }))).toBe('2026-01-10T04:00:00.000Z');
    });

    it('no catchup, startDate in the future: the first tick at or after startDate', () => {
      expect(iso(t.nextLogicalDate({ last: null, startDate: d('2026-02-01T00:00:00Z'), catchup: false, now }))).toBe('2026-02-01T04:00:00.000Z');
    });
  });
});

describe('daylight saving time (0 4 * * * in America/New_York)', () => {
  const zone = 'America/New_York';
  const t = new CronTimetable('0 4 * * *', zone);

  it('fall back (2026-11-01): the interval across the change is 25h, logical dates stay at 04:00 local', () => {
    const intervals = t.intervalsBetween(d('2026-10-30T00:00:00Z'), d('2026-11-03T00:00:00Z'));
    expect(intervals.map((i) => iso(i.start))).toEqual([
      '2026-10-30T08:00:00.000Z',
      '2026-10-31T08:00:00.000Z',
      '2026-11-01T09:00:00.000Z',
      '2026-11-02T09:00:00.000Z',
    ]);
    expect(intervals.map(hours)).toEqual([24, 25, 24, 24]);
    for (const interval of intervals) expect(DateTime.fromJSDate(interval.start, { zone }).toFormat('HH:mm')).toBe('04:00');
    expect(localTime(intervals[1]!.start, zone)).toBe('2026-10-31T04:00 EDT');
    expect(localTime(intervals[1]!.end, zone)).toBe('2026-11-01T04:00 EST');
  });

  it('fall back: intervalFor and previousTick across the change', () => {
    expect(t.intervalFor(d('2026-10-31T08:00:00Z'))).toEqual({ start: d('2026-10-31T08:00:00Z'), end: d('2026-11-01T09:00:00Z') });
    expect(iso(t.previousTick(d('2026-11-01T09:00:00Z')))).toBe('2026-10-31T08:00:00.000Z');
    expect(t.latestCompleteInterval(d('2026-11-01T12:00:00Z'))).toEqual({ start: d('2026-10-31T08:00:00Z'), end: d('2026-11-01T09:00:00Z') });
  });

  it('spring forward (2026-03-08): the interval across the change is 23h, logical dates stay at 04:00 local', () => {
    const intervals = t.intervalsBetween(d('2026-03-06T00:00:00Z'), d('2026-03-10T00:00:00Z'));
    expect(intervals.map((i) => iso(i.start))).toEqual([
      '2026-03-06T09:00:00.000Z',
      '2026-03-07T09:00:00.000Z',
      '2026-03-08T08:00:00.000Z',
      '2026-03-09T08:00:00.000Z',
    ]);
    expect(intervals.map(hours)).toEqual([24, 23, 24, 24]);
    for (const interval of intervals) expect(DateTime.fromJSDate(interval.start, { zone }).toFormat('HH:mm')).toBe('04:00');
  });

  it('spring forward: intervalFor and previousTick across the change', () => {
    expect(t.intervalFor(d('2026-03-07T09:00:00Z'))).toEqual({ start: d('2026-03-07T09:00:00Z'), end: d('2026-03-08T08:00:00Z') });
    expect(iso(t.previousTick(d('2026-03-08T08:00:00Z')))).toBe('2026-03-07T09:00:00.000Z');
  });

  it('hourly across fall back: every UTC hour is a tick, once (01:00 local happens twice)', () => {
    const hourly = new CronTimetable('@hourly', zone);
    const intervals = hourly.intervalsBetween(d('2026-11-01T03:00:00Z'), d('2026-11-01T08:00:00Z'));
    expect(intervals.map((i) => iso(i.start))).toEqual([
      '2026-11-01T03:00:00.000Z',
      '2026-11-01T04:00:00.000Z',
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T06:00:00.000Z',
      '2026-11-01T07:00:00.000Z',
      '2026-11-01T08:00:00.000Z',
    ]);
    expect(intervals.map(hours)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('hourly across spring forward: no tick is invented for the missing 02:00 local', () => {
    const hourly = new CronTimetable('@hourly', zone);
    const intervals = hourly.intervalsBetween(d('2026-03-08T05:00:00Z'), d('2026-03-08T09:00:00Z'));
    expect(intervals.map((i) => localTime(i.start, zone))).toEqual([
      '2026-03-08T00:00 EST',
      '2026-03-08T01:00 EST',
      '2026-03-08T03:00 EDT',
      '2026-03-08T04:00 EDT',
      '2026-03-08T05:00 EDT',
    ]);
    expect(intervals.map(hours)).toEqual([1, 1, 1, 1, 1]);
  });

  it('catchup from the example start date (2026-01-01 in New York) starts at 04:00 local on Jan 1', () => {
    const startDate = parseDateInZone('2026-01-01', zone);
    expect(iso(t.nextLogicalDate({ last: null, startDate, catchup: true, now: d('2026-06-01T00:00:00Z') }))).toBe('2026-01-01T09:00:00.000Z');
  });
});
