// @ts-check
// One experiment's results (#/experiments/:key): the variants' numbers, each treatment's lift
// over the baseline with its 95% interval as a forest plot (and as a table), the sample-ratio
// check, the guardrail, and — for operators — stopping it.
import { api, canOperate, enc } from '../lib/api.js';
import { app, h, put } from '../lib/dom.js';
import { fmtDate, fmtMetric } from '../lib/format.js';
import { confirmDialog, errorBox, toast } from '../lib/widgets.js';
import { fmtLift, forestPlot } from './forest-plot.js';

/** @typedef {import('../lib/types.js').ExperimentReport} ExperimentReport */
/** @typedef {import('../lib/types.js').LiftReport} LiftReport */
/** @typedef {import('../lib/types.js').Experiment} Experiment */
/** @typedef {import('../states.js').StateStyle} StateStyle */

/** Status colours and glyphs (Okabe–Ito, as the task states). @type {Readonly<Record<string, StateStyle>>} */
const STATUS = {
  scheduled: { color: '#C9C9C9', fg: '#222222', glyph: '◷', label: 'scheduled' },
  running: { color: '#56B4E9', fg: '#00263d', glyph: '▶', label: 'running' },
  ended: { color: '#009E73', fg: '#ffffff', glyph: '✓', label: 'ended' },
  stopped: { color: '#E69F00', fg: '#2b1d00', glyph: '■', label: 'stopped' },
};

/** @param {string} status */
export function experimentBadge(status) {
  const info = STATUS[status] ?? { color: '#eeeeee', fg: '#000000', glyph: '?', label: status };
  return h(
    'span',
    { class: `badge experiment-${status}`, style: { background: info.color, color: info.fg }, 'data-testid': 'experiment-status' },
    h('span', { class: 'glyph', 'aria-hidden': 'true' }, info.glyph),
    ` ${info.label}`,
  );
}

/**
 * `heuristics 50% · model 50%`, the baseline marked.
 * @param {Experiment['variants']} variants
 */
export function variantList(variants) {
  return h(
    'span',
    { class: 'variant-list' },
    variants.map((v, i) => h('span', { class: i === 0 ? 'variant baseline' : 'variant', title: i === 0 ? 'baseline' : null }, h('code', {}, v.key), ` ${v.weight}%`)),
  );
}


/** Readable metric names. @type {Record<string, string>} */
const METRICS = {
  takeRate: 'Take rate (exposed members who took a picked class)',
  conversionsPerImpression: 'Conversions per impression',
  repeatIgnoredRate: 'Repeat-ignored rate (lower is better)',
  workoutsPerMember: 'Guardrail: workouts per exposed member',
};
/** Shorter names for the plot's labels. @type {Record<string, string>} */
const PLOT_LABELS = {
  takeRate: 'Take rate',
  conversionsPerImpression: 'Conversions per impression',
  repeatIgnoredRate: 'Repeat-ignored rate (lower is better)',
  workoutsPerMember: 'Workouts per member (guardrail)',
};

/** @param {number | null} v */
const pct = (v) => (v === null ? '—' : `${(v * 100).toFixed(1)}%`);
/** @param {number} v */
const count = (v) => v.toLocaleString();
/** @param {number | null} p */
const pValue = (p) => (p === null ? '—' : p < 0.0001 ? '< 0.0001' : p.toFixed(4));

/** @param {ExperimentReport} r */
function variantsTable(r) {
  /** @type {[string, (v: ExperimentReport['variants'][number]) => string, string][]} */
  const cols = [
    ['Weight', (v) => `${v.weight}%`, 'weight'],
    ['Members', (v) => count(v.members), 'members'],
    ['Exposed', (v) => count(v.exposed), 'exposed'],
    ['Converted', (v) => count(v.converted), 'converted'],
    ['Take rate', (v) => pct(v.takeRate), 'takeRate'],
    ['Impressions', (v) => count(v.impressions), 'impressions'],
    ['Clicks', (v) => count(v.clicks), 'clicks'],
    ['Conversions', (v) => count(v.conversions), 'conversions'],
    ['Conv. / impr.', (v) => fmtMetric(v.conversionsPerImpression), 'conversionsPerImpression'],
    ['Repeat-ignored', (v) => pct(v.repeatIgnoredRate), 'repeatIgnoredRate'],
  ];
  return h(
    'table',
    { class: 'table numbers', 'data-testid': 'experiment-variants' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Variant'), cols.map(([label]) => h('th', { class: 'num' }, label)))),
    h(
      'tbody',
      {},
      r.variants.map((v, i) =>
        h(
          'tr',
          { 'data-variant': v.key },
          h('th', { scope: 'row' }, h('code', {}, v.key), i === 0 ? h('span', { class: 'tag' }, 'baseline') : null),
          cols.map(([, value, field]) => h('td', { class: 'num', 'data-field': field }, value(v))),
        ),
      ),
    ),
  );
}

/** @param {LiftReport[]} lifts */
function liftTable(lifts) {
  return h(
    'table',
    { class: 'table numbers', 'data-testid': 'experiment-lift' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Metric'), h('th', {}, 'Variant'), h('th', { class: 'num' }, 'Lift'), h('th', { class: 'num' }, '95% interval'), h('th', { class: 'num' }, 'p'))),
    h(
      'tbody',
      {},
      lifts.map((l) =>
        h(
          'tr',
          { 'data-metric': l.metric, 'data-variant': l.variant },
          h('td', {}, METRICS[l.metric] ?? l.metric),
          h('td', {}, h('code', {}, l.variant), h('span', { class: 'muted' }, ` vs ${l.baseline}`)),
          h('td', { class: 'num' }, l.relative === null ? '—' : fmtLift(l.relative)),
          h('td', { class: 'num' }, l.ciLow === null || l.ciHigh === null ? '—' : `${fmtLift(l.ciLow)} to ${fmtLift(l.ciHigh)}`),
          h('td', { class: 'num' }, pValue(l.pValue)),
        ),
      ),
    ),
  );
}

/**
 * "Stop", for operators only, while the experiment is scheduled or running; asks first.
 * @param {ExperimentReport} r
 * @param {() => Promise<void>} onDone
 */
function stopButton(r, onDone) {
  if (!canOperate() || r.status === 'stopped' || r.status === 'ended') return null;
  return h(
    'button',
    {
      type: 'button',
      class: 'danger',
      'data-testid': 'experiment-stop',
      onclick: () =>
        confirmDialog({
          title: `Stop ${r.key}?`,
          body: [
            `From the next serving on, the rows ${r.rows.join(', ')} are ranked as without the experiment, for every member.`,
            'The results so far stay; a stopped experiment cannot be restarted (create a new one).',
          ],
          confirm: 'Stop experiment',
          onConfirm: async () => {
            /** @type {Experiment} */
            const stopped = await api('POST', `/experiments/${enc(r.key)}/stop`);
            toast(`${stopped.key} stopped`);
            await onDone();
          },
        }),
    },
    'Stop',
  );
}

/** @param {string} key */
export async function viewExperiment(key) {
  async function render() {
    /** @type {ExperimentReport} */
    let r;
    try {
      r = await api('GET', `/experiments/${enc(key)}`);
    } catch (e) {
      put(app, h('section', { class: 'page' }, h('p', {}, h('a', { href: '#/experiments' }, '← Experiments')), errorBox(e)));
      return;
    }
    const g = r.guardrails.workoutsPerMember;
    const lifts = [...r.lift, ...g.lift];
    put(
      app,
      h(
        'section',
        { class: 'page experiment-detail', 'data-testid': 'experiment-detail' },
        h('p', {}, h('a', { href: '#/experiments' }, '← Experiments')),
        h(
          'div',
          { class: 'page-head' },
          h('div', {}, h('h1', { class: 'mono' }, r.key), r.description ? h('p', { class: 'muted' }, r.description) : null),
          h('div', { class: 'head-meta' }, experimentBadge(r.status), stopButton(r, render)),
        ),
        h(
          'dl',
          { class: 'facts inline-facts' },
          h('dt', {}, 'Rows'),
          h('dd', { class: 'mono' }, r.rows.join(', ')),
          h('dt', {}, 'Start'),
          h('dd', {}, fmtDate(r.startAt)),
          h('dt', {}, 'End'),
          h('dd', {}, r.endAt ? fmtDate(r.endAt) : 'open'),
          h('dt', {}, 'Stopped'),
          h('dd', {}, r.stoppedAt ? `${fmtDate(r.stoppedAt)}${r.stoppedBy ? ` by ${r.stoppedBy}` : ''}` : '—'),
        ),
        r.srmFlagged
          ? h(
              'p',
              { class: 'error', role: 'alert', 'data-testid': 'srm-warning' },
              h('strong', {}, 'Sample ratio mismatch. '),
              `The exposed members are not split as the weights say (chi-square p = ${pValue(r.srmPValue)} < 0.001): assignment or logging is broken somewhere, and the lifts below cannot be trusted until the cause is found.`,
            )
          : null,
        h('div', { class: 'card' }, h('h2', {}, 'Variants'), variantsTable(r), h('p', { class: 'muted small' }, `Sample-ratio check: p = ${pValue(r.srmPValue)}${r.srmFlagged ? ' (flagged)' : ''}.`)),
        h(
          'div',
          { class: 'card' },
          h('h2', {}, `Lift over ${r.variants[0]?.key ?? 'the baseline'}`),
          h('p', { class: 'muted small' }, 'Relative lift (treatment ÷ baseline − 1) with its 95% interval; filled points: the interval excludes zero.'),
          h('div', { class: 'plot-box' }, forestPlot(lifts, { labels: PLOT_LABELS })),
          liftTable(lifts),
        ),
        h(
          'div',
          { class: 'card', 'data-testid': 'experiment-guardrail' },
          h('h2', {}, 'Guardrail: workouts per exposed member'),
          h('p', { class: 'muted small' }, `Every workout (any class) from a member’s exposure until ${fmtDate(g.until)}; lift by Welch’s test.`),
          h(
            'table',
            { class: 'table numbers' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Variant'), h('th', { class: 'num' }, 'Exposed'), h('th', { class: 'num' }, 'Workouts'), h('th', { class: 'num' }, 'Per member'))),
            h('tbody', {}, g.variants.map((v) => h('tr', { 'data-variant': v.variant }, h('th', { scope: 'row' }, h('code', {}, v.variant)), h('td', { class: 'num' }, count(v.exposed)), h('td', { class: 'num' }, count(v.workouts)), h('td', { class: 'num' }, v.mean === null ? '—' : v.mean.toFixed(3))))),
          ),
        ),
      ),
    );
  }
  await render();
  return () => {};
}
