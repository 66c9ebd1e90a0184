// @ts-check
// A/B experiments on the Daily Picks rows (#/experiments): each experiment with its status,
// variants (the first is the baseline), rows and time span. #/experiments/:key is one
// experiment's results (experiment.js).
import { api, enc } from '../lib/api.js';
import { app, h, put } from '../lib/dom.js';
import { fmtDate } from '../lib/format.js';
import { errorBox } from '../lib/widgets.js';
import { experimentBadge, variantList, viewExperiment } from './experiment.js';

/** @typedef {import('../lib/types.js').Experiment} Experiment */
/**
 * @param {string | undefined} key
 * @param {URLSearchParams} _params
 */
export async function viewExperiments(key, _params) {
  if (key) return viewExperiment(key);
  const tbody = h('tbody', {});
  put(
    app,
    h(
      'section',
      { class: 'page' },
      h(
        'div',
        { class: 'page-head' },
        h('div', {}, h('h1', {}, 'Experiments'), h('p', { class: 'muted' }, 'A/B tests of what ranks the Daily Picks rows. Members are assigned by a hash of their id and the experiment key; the first variant is the baseline.')),
      ),
      h(
        'table',
        { class: 'table experiments', 'data-testid': 'experiments' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Experiment'), h('th', {}, 'Status'), h('th', {}, 'Variants'), h('th', {}, 'Rows'), h('th', {}, 'Start'), h('th', {}, 'End'))),
        tbody,
      ),
    ),
  );
  /** @type {{ experiments: Experiment[] }} */
  let data;
  try {
    data = await api('GET', '/experiments');
  } catch (e) {
    app.append(errorBox(e));
    return () => {};
  }
  if (data.experiments.length === 0) {
    tbody.append(
      h(
        'tr',
        {},
        h(
          'td',
          { colspan: 6, class: 'empty', 'data-testid': 'experiments-empty' },
          h('strong', {}, 'No experiments yet.'),
          h('p', { class: 'muted' }, 'Create one with `flywheel experiments create KEY --variants heuristics:50,model:50` or POST /api/v1/experiments (operator role). The daily run then ranks each variant’s rows for its members, and the picks API logs who saw what.'),
        ),
      ),
    );
  }
  for (const e of data.experiments) {
    tbody.append(
      h(
        'tr',
        { 'data-key': e.key, 'data-testid': 'experiment-row' },
        h('td', {}, h('a', { class: 'mono experiment-link', href: `#/experiments/${enc(e.key)}` }, e.key), e.description ? h('div', { class: 'muted small' }, e.description) : null),
        h('td', { class: 'nowrap' }, experimentBadge(e.status)),
        h('td', {}, variantList(e.variants)),
        h('td', { class: 'mono small' }, e.rows.join(', ')),
        h('td', { class: 'nowrap' }, fmtDate(e.startAt, true)),
        h('td', { class: 'nowrap' }, e.stoppedAt ? `stopped ${fmtDate(e.stoppedAt, true)}` : e.endAt ? fmtDate(e.endAt, true) : 'open'),
      ),
    );
  }
  return () => {};
}
