/** Milliseconds in a day: every decay, window and day bucket of the recommender counts in these. */
export const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of the UTC day of `date` (a Date or epoch ms). */
export function utcDay(date: Date | number): string {
  return (typeof date === 'number' ? new Date(date) : date).toISOString().slice(0, 10);
}

/**
 * The time every decay and window is measured from — recency weights, popularity windows,
 * "days since the last workout", freshness: the as-of time, unless the data ended more than a
 * day before it (data imported years after it was collected, a source that stopped): then the
 * end of the UTC day of the last interaction. A run as of today on data that ended years ago so
 * ranks as a run as of the data's end does; whole-day shifts of the data shift it exactly.
 * `dataEnd` is the last interaction before `asOf` (epoch ms), null without one.
 */
export function dataClock(asOf: number, dataEnd: number | null): number {
  if (dataEnd === null || !Number.isFinite(dataEnd) || asOf - dataEnd <= DAY_MS) return asOf;
  return Math.min(asOf, (Math.floor(dataEnd / DAY_MS) + 1) * DAY_MS);
}
