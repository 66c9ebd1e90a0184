/**
 * The values of an imported CSV cell: times (unix seconds or milliseconds, ISO 8601) and
 * durations, with the plausibility rules that catch seconds and milliseconds mixed up.
 */

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * A time as unix seconds (digits, optionally with a fraction; a value of 10^11 or more is read as
 * milliseconds) or ISO 8601 (`2026-03-01`, `2026-03-01T07:30:00Z`, `2026-03-01 07:30:00+01:00`;
 * no offset means UTC). Returns unix seconds, or null when it is neither. Syntax only: imports
 * read times with `readTime`, which also refuses ambiguous and implausible ones.
 */
export function parseTime(text: string): number | null {
  const value = text.trim();
  if (/^[+-]?\d+(\.\d+)?$/.test(value)) {
    const n = Number(value);
    if (!Number.isFinite(n)) return null;
    const seconds = Math.abs(n) >= 1e11 ? n / 1000 : n;
    // PostgreSQL's timestamptz range, roughly: 4713 BC … 294276 AD.
    return Math.abs(seconds) < 9e12 ? seconds : null;
  }
  const m = ISO.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return null;
  let offsetMin = 0;
  const zone = m[8];
  if (zone && zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    const h = Number(z[2]);
    const mm = Number(z[3] ?? '0');
    if (h > 23 || mm > 59) return null;
    offsetMin = (z[1] === '-' ? -1 : 1) * (h * 60 + mm);
  }
  const fraction = m[7] ? Number(m[7]) : 0;
  return Date.UTC(year, month - 1, day, hour, minute, second) / 1000 + fraction - offsetMin * 60;
}

/** The earliest plausible workout time: 1990-01-01T00:00:00Z, in unix seconds. */
export const EARLIEST_TIME = Date.UTC(1990, 0, 1) / 1000;
/** How far past now a time may lie (clock skew, time zones): one day, in seconds. */
export const FUTURE_SLACK_SECONDS = 86_400;

function isoSeconds(seconds: number): string {
  const ms = seconds * 1000;
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().replace('.000Z', 'Z') : `${seconds} s after 1970`;
}

/**
 * A workout time as `flywheel import` reads it: `parseTime`, then refused when it is ambiguous or
 * implausible. Eight digits (`20260301`) look like an ISO basic date but would read as unix seconds
 * in 1970, so they are refused with a hint to write `2026-03-01`; a time before 1990-01-01 or more
 * than a day after `nowMs` is refused as implausible (usually seconds and milliseconds mixed up, or
 * a wrong column). Returns unix seconds, or the problem (a phrase to follow the quoted value).
 */
export function readTime(text: string, nowMs = Date.now()): { seconds: number } | { problem: string } {
  const value = text.trim();
  if (/^\d{8}$/.test(value)) {
    const iso = `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}`;
    const hint = parseTime(iso) === null ? 'write dates in ISO 8601 (YYYY-MM-DD, such as 2026-03-01)' : `if it is a date, write it in ISO 8601: ${iso}`;
    return { problem: `is ambiguous: 8 digits look like a YYYYMMDD date but would read as unix seconds (${isoSeconds(Number(value))}); ${hint}` };
  }
  const seconds = parseTime(value);
  if (seconds === null) return { problem: 'is neither unix seconds nor ISO 8601' };
  if (seconds < EARLIEST_TIME) return { problem: `is ${isoSeconds(seconds)}, before 1990-01-01: implausible for a workout (seconds and milliseconds mixed up?)` };
  if (seconds > nowMs / 1000 + FUTURE_SLACK_SECONDS) return { problem: `is ${isoSeconds(seconds)}, more than a day in the future: implausible for a workout` };
  return { seconds };
}

/** A duration in minutes (`30`, `30.0`, `7.5` → rounded to whole minutes), or null when it is not one. */
export function parseDuration(text: string): number | null {
  const value = text.trim();
  if (!/^\d+(\.\d+)?$/.test(value)) return null;
  const n = Math.round(Number(value));
  return n >= 0 && n <= 100_000 ? n : null;
}
