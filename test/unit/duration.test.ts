import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../core/sdk/duration.ts';

describe('parseDuration', () => {
  it.each([
    ['100ms', 100],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1.5h', 5_400_000],
    ['5 m', 300_000],
    ['10 minutes', 600_000],
    ['0s', 0],
    ['30', 30], // a bare number string is milliseconds, as `ms` reads it
  ])('%j is %i ms', (value, expected) => {
    expect(parseDuration(value)).toBe(expected);
  });

  it.each([
    [0, 0],
    [1500, 1500],
    [0.4, 0],
    [1.5, 2],
    [2.5, 3],
  ])('the number %d is %i ms (rounded to whole ms)', (value, expected) => {
    expect(parseDuration(value)).toBe(expected);
  });

  it('rounds fractional milliseconds in strings', () => {
    expect(parseDuration('0.5ms')).toBe(1);
  });

  it.each(['soon', 'abc', '-1s', '5 parsecs', ' ', 'x'.repeat(120)])('rejects %j with a RangeError naming the value', (value) => {
    expect(() => parseDuration(value)).toThrow(RangeError);
    expect(() => parseDuration(value)).toThrow(`duration ${JSON.stringify(value)} is not a duration`);
  });

  it.each([-1, -0.5, Infinity, -Infinity, NaN])('rejects the number %d with a RangeError', (value) => {
    expect(() => parseDuration(value)).toThrow(RangeError);
  });

  it('names what it was parsing', () => {
    expect(() => parseDuration('soon', 'retryDelay')).toThrow(/^retryDelay "soon" is not a duration \(use ms or '100ms', '30s', '5m', '1h'\)$/);
  });

  // The `ms` package throws its own plain Error for ''; parseDuration must still say what it parsed.
  it("rejects '' with a RangeError naming what it was parsing", () => {
    expect(() => parseDuration('', 'retryDelay')).toThrow(RangeError);
    expect(() => parseDuration('', 'retryDelay')).toThrow(/^retryDelay "" is not a duration/);
  });

  it('names NaN and Infinity in the message, not null', () => {
    expect(() => parseDuration(NaN)).toThrow(/NaN/);
    expect(() => parseDuration(Infinity)).toThrow(/Infinity/);
  });
});
