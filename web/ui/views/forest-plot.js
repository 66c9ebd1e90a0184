// @ts-check
// A forest plot of relative lifts: one line per treatment and metric, the point estimate with its
// 95% interval, and the zero line (no effect). Drawn as SVG (no chart library: the UI has no
// build step, its CSP allows only its own scripts, and every number stays in the DOM as text, for
// screen readers and tests). An interval that excludes zero is drawn solid, one that includes it
// hollow; the numbers are printed beside each line, so nothing is told by colour alone.

/** @typedef {import('../lib/types.js').LiftReport} LiftReport */

const NS = 'http://www.w3.org/2000/svg';

/**
 * An SVG element with attributes and children (strings become text nodes).
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @param {...(SVGElement | string)} children
 * @returns {SVGElement}
 */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return /** @type {SVGElement} */ (el);
}

/** @param {number} x a relative lift (0.123 = +12.3%) */
export function fmtLift(x) {
  const pct = x * 100;
  if (Math.abs(pct) < 0.05) return '0%';
  const digits = Math.abs(pct) >= 100 ? 0 : 1;
  return `${pct >= 0 ? '+' : '−'}${Math.abs(pct).toFixed(digits)}%`;
}

/**
 * Round tick values across [lo, hi] (about five).
 * @param {number} lo
 * @param {number} hi
 */
function ticks(lo, hi) {
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) ?? 10 * mag;
  /** @type {number[]} */
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

/**
 * @param {LiftReport[]} lifts
 * @param {{ labels?: Record<string, string> }} [options] readable metric names
 * @returns {SVGElement}
 */
export function forestPlot(lifts, options = {}) {
  const labels = options.labels ?? {};
  const rowH = 28;
  const headH = 22;
  const labelW = 270;
  const plotW = 420;
  const textW = 210;
  const top = 8;
  const axisH = 30;
  const metrics = [...new Set(lifts.map((l) => l.metric))];
  const height = top + metrics.length * headH + lifts.length * rowH + axisH;
  const width = labelW + plotW + textW;

  const ends = lifts.flatMap((l) => [l.ciLow, l.ciHigh, l.relative]).filter(/** @returns {v is number} */ (v) => typeof v === 'number' && Number.isFinite(v));
  let lo = Math.min(0, ...ends);
  let hi = Math.max(0, ...ends);
  if (hi - lo < 0.02) [lo, hi] = [lo - 0.05, hi + 0.05];
  const pad = (hi - lo) * 0.06;
  lo -= pad;
  hi += pad;
  /** @param {number} v */
  const x = (v) => labelW + ((v - lo) / (hi - lo)) * plotW;
  const plotBottom = height - axisH;

  const svg = s('svg', {
    class: 'forest-plot',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-labelledby': 'forest-title',
    'data-testid': 'lift-plot',
  });
  svg.append(s('title', { id: 'forest-title' }, 'Relative lift over the baseline with 95% intervals'));

  const grid = s('g', { class: 'forest-axis' });
  for (const t of ticks(lo, hi)) {
    grid.append(s('line', { x1: x(t), x2: x(t), y1: top, y2: plotBottom, class: 'forest-grid' }));
    grid.append(s('text', { x: x(t), y: plotBottom + 16, 'text-anchor': 'middle' }, fmtLift(t)));
  }
  grid.append(s('line', { x1: labelW, x2: labelW + plotW, y1: plotBottom, y2: plotBottom, class: 'forest-baseline' }));
  grid.append(s('line', { x1: x(0), x2: x(0), y1: top, y2: plotBottom, class: 'forest-zero', 'data-testid': 'lift-zero' }));
  svg.append(grid);

  let y = top;
  for (const metric of metrics) {
    svg.append(s('text', { x: 4, y: y + 15, class: 'forest-metric' }, labels[metric] ?? metric));
    y += headH;
    for (const l of lifts.filter((m) => m.metric === metric)) {
      const cy = y + rowH / 2;
      const row = s('g', { class: 'forest-row', 'data-metric': l.metric, 'data-variant': l.variant });
      row.append(s('text', { x: 16, y: cy + 4, class: 'forest-variant' }, `${l.variant} vs ${l.baseline}`));
      if (l.relative === null) {
        row.append(s('text', { x: labelW + plotW + 10, y: cy + 4, class: 'forest-value muted' }, 'n/a (not enough data)'));
      } else {
        const hasCi = l.ciLow !== null && l.ciHigh !== null;
        const significant = hasCi && (/** @type {number} */ (l.ciLow) > 0 || /** @type {number} */ (l.ciHigh) < 0);
        row.classList.add(significant ? 'significant' : 'inconclusive');
        if (hasCi) {
          const x1 = x(/** @type {number} */ (l.ciLow));
          const x2 = x(/** @type {number} */ (l.ciHigh));
          row.append(s('line', { x1, x2, y1: cy, y2: cy, class: 'forest-ci', 'data-testid': 'lift-interval' }));
          row.append(s('line', { x1, x2: x1, y1: cy - 5, y2: cy + 5, class: 'forest-ci' }));
          row.append(s('line', { x1: x2, x2, y1: cy - 5, y2: cy + 5, class: 'forest-ci' }));
        }
        row.append(s('circle', { cx: x(l.relative), cy, r: 5, class: 'forest-point', 'data-testid': 'lift-point' }));
        const text = `${fmtLift(l.relative)}${hasCi ? ` [${fmtLift(/** @type {number} */ (l.ciLow))}, ${fmtLift(/** @type {number} */ (l.ciHigh))}]` : ''}`;
        row.append(s('text', { x: labelW + plotW + 10, y: cy + 4, class: 'forest-value', 'data-testid': 'lift-value' }, text));
        row.append(s('title', {}, `${labels[metric] ?? metric}, ${l.variant} vs ${l.baseline}: ${text}${l.pValue === null ? '' : `, p = ${l.pValue.toPrecision(3)}`}`));
      }
      svg.append(row);
      y += rowH;
    }
  }
  return svg;
}
