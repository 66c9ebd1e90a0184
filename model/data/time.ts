/** Milliseconds in a day: every decay, window and day bucket of the recommender counts in these. */
export const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of a UTC day. */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}
