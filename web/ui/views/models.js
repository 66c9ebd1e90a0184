// @ts-check
// The model registry (#/models?stage=…): every training run, newest first, with its headline
// metrics per candidate; which version is in production; promoting one. #/models/:version is
// one version (model.js).
import { api, enc, messageOf } from '../lib/api.js';
import { app, h, put } from '../lib/dom.js';
import { fmtDate, fmtDuration } from '../lib/format.js';
import { errorBox, toast } from '../lib/widgets.js';
import { viewModel } from './model.js';
import { HEADLINE_METRICS, MODEL_STAGES, metricsTable, modelStatus, promoteButton, stageBadge } from './model-widgets.js';

/** @typedef {import('../lib/types.js').ModelVersion} ModelVersion */
/** @typedef {import('../lib/types.js').ModelPage} ModelPage */

/**
 * @param {string | undefined} version
 * @param {URLSearchParams} params
 */
export async function viewModels(version, params) {
  if (version) return viewModel(version);
  const stage = h(
    'select',
    { id: 'f-stage' },
    h('option', { value: '' }, 'all stages'),
    Object.keys(MODEL_STAGES).map((s) => h('option', { value: s, selected: params.get('stage') === s }, s)),
  );
  const tbody = h('tbody', {});
  const summary = h('div', { class: 'model-summary' });
  const more = h('button', { type: 'button', class: 'link', hidden: true }, 'Load older versions');
  /** @type {string | null} */
  let cursor = null;
  /** @type {ModelVersion | null} */
  let production = null;

  /** @param {ModelVersion} m */
  function row(m) {
    return h(
      'tr',
      { class: m.stage === 'production' ? 'is-production' : null, 'data-version': m.version, 'data-testid': 'model-row' },
      h('td', {}, h('a', { class: 'mono model-link', href: `#/models/${enc(m.version)}` }, m.version), h('div', { class: 'muted small' }, m.modelName)),
      h('td', {}, stageBadge(m.stage)),
      h('td', { class: 'nowrap' }, modelStatus(m.status)),
      h('td', {}, h('code', {}, m.backend)),
      h('td', { class: 'nowrap' }, fmtDate(m.createdAt, true)),
      h('td', { class: 'nowrap' }, fmtDuration(m.durationMs)),
      h('td', {}, metricsTable(m.metrics, HEADLINE_METRICS, true)),
      h('td', { class: 'actions' }, promoteButton(m, production, () => load(true))),
    );
  }

  /** @param {boolean} reset from the first page, with the production summary (else the next page) */
  async function load(reset) {
    const q = new URLSearchParams({ limit: '25' });
    if (stage.value) q.set('stage', stage.value);
    if (!reset && cursor) q.set('cursor', cursor);
    /** @type {Promise<ModelPage>} */
    const page = api('GET', `/models?${q}`);
    /** @type {Promise<ModelPage> | null} */
    const productionPage = reset ? api('GET', '/models?stage=production&limit=1') : null;
    const [data, prod] = await Promise.all([page, productionPage]);
    if (reset) {
      production = prod?.models[0] ?? null;
      put(
        summary,
        production
          ? [h('span', { class: 'muted' }, 'In production: '), h('a', { class: 'mono', href: `#/models/${enc(production.version)}` }, production.version), h('span', { class: 'muted' }, ` · ${production.backend} · promoted ${fmtDate(production.promotedAt, true)} by ${production.promotedBy ?? '?'}`)]
          : h('span', { class: 'muted' }, 'No model in production: Daily Picks serves the heuristics.'),
      );
      put(tbody);
    }
    tbody.append(...data.models.map(row));
    if (reset && data.models.length === 0) {
      tbody.append(
        h(
          'tr',
          {},
          h(
            'td',
            { colspan: 8, class: 'empty', 'data-testid': 'models-empty' },
            h('strong', {}, stage.value ? `No ${stage.value} models.` : 'No models yet.'),
            h('p', { class: 'muted' }, 'Models appear here once the ranker trains: each training run of daily_picks registers a version with its parameters, backend, row counts and metrics (ranker vs heuristics, popularity and baseline). An operator then promotes one to production.'),
          ),
        ),
      );
    }
    cursor = data.nextCursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => void load(false).catch((e) => toast(messageOf(e), 'error')));
  stage.addEventListener('change', () => {
    history.replaceState(null, '', `#/models${stage.value ? `?stage=${enc(stage.value)}` : ''}`);
    load(true).catch((e) => toast(messageOf(e), 'error'));
  });

  put(
    app,
    h(
      'section',
      { class: 'page' },
      h(
        'div',
        { class: 'page-head' },
        h('div', {}, h('h1', {}, 'Models'), h('p', { class: 'muted' }, 'Every training run of the ranker, with its metrics against the heuristics, popularity and the baseline. One version is in production.')),
        h('div', { class: 'head-meta' }, h('label', { for: 'f-stage', class: 'inline' }, 'Stage ', stage), h('button', { type: 'button', onclick: () => load(true).catch((e) => toast(messageOf(e), 'error')) }, 'Refresh')),
      ),
      summary,
      h(
        'table',
        { class: 'table models', 'data-testid': 'models' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', {}, 'Version'), h('th', {}, 'Stage'), h('th', {}, 'Status'), h('th', {}, 'Backend'), h('th', {}, 'Created'), h('th', {}, 'Duration'), h('th', {}, 'Metrics (best ▲)'), h('th', { class: 'actions' }, '')),
        ),
        tbody,
      ),
      more,
    ),
  );
  try {
    await load(true);
  } catch (e) {
    app.append(errorBox(e));
  }
  return () => {};
}
