// @ts-check
// How dates, durations and metric values read on the page (the reader's locale and time zone).

const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const shortFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });

/**
 * @param {string | null | undefined} value an ISO date from the API
 * @param {boolean} [short] without the year and seconds
 */
export function fmtDate(value, short = false) {
  if (!value) return '—';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : (short ? shortFmt : dateFmt).format(d);
}

/** @param {number | null | undefined} ms */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * Milliseconds from start to end, or to now while it has not ended; null before it starts.
 * @param {string | null} start
 * @param {string | null} end
 */
export function durationOf(start, end) {
  if (!start) return null;
  return (end ? new Date(end) : new Date()).getTime() - new Date(start).getTime();
}

/** @param {number | null | undefined} value */
export function fmtMetric(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(4) : '—';
}
