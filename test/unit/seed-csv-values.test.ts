/** Values read by `flywheel import`: times (unix seconds or ISO 8601) and durations. */
import { describe, expect, it } from 'vitest';
import { parseDuration, parseTime, readTime } from '../../daily-picks/source/csv-values.ts';

describe('import value parsing', () => {
  it('reads unix seconds (and milliseconds from 10^11 up)', () => {
    expect(parseTime('1700000000')).toBe(1_700_000_000);
    expect(parseTime(' 1700000000 ')).toBe(1_700_000_000);
    expect(parseTime('1700000000.25')).toBe(1_700_000_000.25);
    expect(parseTime('0')).toBe(0);
    expect(parseTime('1700000000123')).toBe(1_700_000_000.123);
  });

  it('reads ISO 8601 with and without offsets (no offset = UTC)', () => {
    const t = Date.UTC(2026, 2, 1, 7, 30, 0) / 1000;
    expect(parseTime('2026-03-01T07:30:00Z')).toBe(t);
    expect(parseTime('2026-03-01T07:30:00')).toBe(t);
    expect(parseTime('2026-03-01 07:30:00')).toBe(t);
    expect(parseTime('2026-03-01T07:30')).toBe(t);
    expect(parseTime('2026-03-01T08:30:00+01:00')).toBe(t);
    expect(parseTime('2026-03-01T02:30:00-0500')).toBe(t);
    expect(parseTime('2026-03-01T09:30:00+02')).toBe(t);
    expect(parseTime('2026-03-01T07:30:00.5Z')).toBe(t + 0.5);
    expect(parseTime('2026-03-01')).toBe(Date.UTC(2026, 2, 1) / 1000);
  });

  it('rejects what is neither', () => {
    for (const bad of ['', 'yesterday', '2026-02-30', '2026-13-01', '2026-03-01T24:00:00Z', '2026-03-01T07:61', '1e9', '12:00', '2026/03/01', '03/01/2026', 'NaN', '2026-03-01T07:30:00+25:00']) {
      expect(parseTime(bad), bad).toBeNull();
    }
  });

  it('refuses 8-digit values (YYYYMMDD-like) as ambiguous, pointing to ISO 8601', () => {
    const now = Date.UTC(2026, 10, 28, 12);
    expect(readTime('20260301', now)).toEqual({
      problem: 'is ambiguous: 8 digits look like a YYYYMMDD date but would read as unix seconds (1970-08-23T11:51:41Z); if it is a date, write it in ISO 8601: 2026-03-01',
    });
    expect(readTime(' 20251231 ', now)).toMatchObject({ problem: expect.stringContaining('write it in ISO 8601: 2025-12-31') });
    expect(readTime('12345678', now)).toMatchObject({ problem: expect.stringContaining('write dates in ISO 8601 (YYYY-MM-DD, such as 2026-03-01)') });
    expect(readTime('2026-03-01', now)).toEqual({ seconds: Date.UTC(2026, 2, 1) / 1000 });
  });

  it('refuses times before 1990-01-01 or more than a day after now as implausible; unix seconds and milliseconds in range still read', () => {
    const now = Date.UTC(2026, 10, 28, 12);
    expect(readTime('1764288000', now)).toEqual({ seconds: 1_764_288_000 });
    expect(readTime('1764288000123', now)).toEqual({ seconds: 1_764_288_000.123 });
    expect(readTime('631152000', now)).toEqual({ seconds: 631_152_000 }); // 1990-01-01T00:00:00Z exactly
    expect(readTime(String(now / 1000 + 86_400), now)).toEqual({ seconds: now / 1000 + 86_400 });
    expect(readTime('631151999', now)).toEqual({ problem: 'is 1989-12-31T23:59:59Z, before 1990-01-01: implausible for a workout (seconds and milliseconds mixed up?)' });
    for (const old of ['0', '86400', '1989-06-01', '1970-01-01T00:00:00Z', '-5']) expect(readTime(old, now), old).toMatchObject({ problem: expect.stringContaining('before 1990-01-01: implausible') });
    expect(readTime(String(now / 1000 + 86_401), now)).toEqual({ problem: 'is 2026-11-29T12:00:01Z, more than a day in the future: implausible for a workout' });
    for (const future of ['2026-11-30', '2099-01-01T00:00:00Z', '99999999999', '99999999999999']) {
      expect(readTime(future, now), future).toMatchObject({ problem: expect.stringContaining('more than a day in the future: implausible') });
    }
    expect(readTime('yesterday', now)).toEqual({ problem: 'is neither unix seconds nor ISO 8601' });
  });

  it('reads durations in minutes', () => {
    expect(parseDuration('30')).toBe(30);
    expect(parseDuration(' 45 ')).toBe(45);
    expect(parseDuration('20.0')).toBe(20);
    expect(parseDuration('7.6')).toBe(8);
    for (const bad of ['', 'thirty', '-5', '30 min', '1e3', '999999']) expect(parseDuration(bad), bad).toBeNull();
  });
});
