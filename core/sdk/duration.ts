import ms from 'ms';

/** Milliseconds, or a string such as `'100ms'`, `'30s'`, `'5m'`, `'1h'`, `'2d'`. */
export type Duration = number | string;

/** Parses a {@link Duration} to whole milliseconds; throws a RangeError naming the bad value. */
export function parseDuration(value: Duration, what = 'duration'): number {
  let parsed: number | undefined;
  try {
    parsed = typeof value === 'number' ? value : ms(value as ms.StringValue);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
    const shown = typeof value === 'number' ? String(value) : JSON.stringify(value);
    throw new RangeError(`${what} ${shown} is not a duration (use ms or '100ms', '30s', '5m', '1h')`);
  }
  return Math.round(parsed);
}
