/** Values read by `flywheel import`: times (unix seconds or ISO 8601) and durations. */
import { describe, expect, it } from 'vitest';
import { parseDuration, parseTime } from '../../operators/source/import-csv.ts';

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

  it('reads durations in minutes', () => {
    expect(parseDuration('30')).toBe(30);
    expect(parseDuration(' 45 ')).toBe(45);
    expect(parseDuration('20.0')).toBe(20);
    expect(parseDuration('7.6')).toBe(8);
    for (const bad of ['', 'thirty', '-5', '30 min', '1e3', '999999']) expect(parseDuration(bad), bad).toBeNull();
  });
});
