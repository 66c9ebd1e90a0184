// @ts-check
// One model version (#/models/:version): how its training run went, metrics per candidate,
// row counts, parameters, and promoting it.
import { api, enc } from '../lib/api.js';
import { app, h, put } from '../lib/dom.js';
import { fmtDate, fmtDuration } from '../lib/format.js';
import { errorBox } from '../lib/widgets.js';
import { HEADLINE_METRICS, metricsTable, modelStatus, promoteButton, stageBadge } from './model-widgets.js';

/** @typedef {import('../lib/types.js').ModelVersion} ModelVersion */
/** @typedef {import('../lib/types.js').ModelPage} ModelPage */

/**
 * A two-column table of key and value, or "none recorded".
 * @template V
 * @param {[string, V][]} entries
 * @param {(value: V) => string} render
 * @param {string} testid
 */
function kvTable(entries, render, testid) {
  if (entries.length === 0) return h('p', { class: 'muted' }, 'none recorded');
  return h('table', { class: 'table kv', 'data-testid': testid }, h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', { class: 'mono break' }, render(v))))));
}

/**
 * Headline metrics first, then the others by name.
 * @param {string} a
 * @param {string} b
 */
function byMetric(a, b) {
  /** @param {string} n */
  const rank = (n) => (HEADLINE_METRICS.includes(n) ? HEADLINE_METRICS.indexOf(n) : 99);
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** @param {string} version */
export async function viewModel(version) {
  async function render() {
    /** @type {ModelVersion} */
    let model;
    /** @type {ModelPage} */
    let productionPage;
    try {
      /** @type {Promise<ModelVersion>} */
      const modelRequest = api('GET', `/models/${enc(version)}`);
      /** @type {Promise<ModelPage>} */
      const productionRequest = api('GET', '/models?stage=production&limit=1');
      [model, productionPage] = await Promise.all([modelRequest, productionRequest]);
    } catch (e) {
      put(app, h('section', { class: 'page' }, h('p', {}, h('a', { href: '#/models' }, '← Models')), errorBox(e)));
      return;
    }
    const production = productionPage.models.find((m) => m.modelName === model.modelName) ?? null;
    const metricNames = [...new Set(Object.values(model.metrics ?? {}).flatMap((m) => Object.keys(m)))].sort(byMetric);
    put(
      app,
      h(
        'section',
        { class: 'page model-detail', 'data-testid': 'model-detail' },
        h('p', {}, h('a', { href: '#/models' }, '← Models')),
        h(
          'div',
          { class: 'page-head' },
          h('div', {}, h('h1', { class: 'mono' }, model.version), h('p', { class: 'muted' }, model.modelName)),
          h('div', { class: 'head-meta' }, stageBadge(model.stage), promoteButton(model, production, render)),
        ),
        h(
          'div',
          { class: 'model-grid' },
          h(
            'div',
            { class: 'card' },
            h('h2', {}, 'Run'),
            h(
              'dl',
              { class: 'facts' },
              h('dt', {}, 'Status'),
              h('dd', {}, modelStatus(model.status)),
              h('dt', {}, 'Backend'),
              h('dd', {}, h('code', {}, model.backend)),
              h('dt', {}, 'Created'),
              h('dd', {}, fmtDate(model.createdAt)),
              h('dt', {}, 'Finished'),
              h('dd', {}, fmtDate(model.finishedAt)),
              h('dt', {}, 'Duration'),
              h('dd', {}, fmtDuration(model.durationMs)),
              h('dt', {}, 'Data location'),
              h('dd', { class: 'mono break', 'data-testid': 'model-data' }, model.dataLocation ?? '—'),
              h('dt', {}, 'Artifact path'),
              h('dd', { class: 'mono break', 'data-testid': 'model-artifact' }, model.artifactPath ?? '—'),
              h('dt', {}, 'DAG run'),
              h('dd', {}, model.dagId ? h('a', { href: `#/dags/${enc(model.dagId)}${model.runId ? `?run=${enc(model.runId)}` : ''}` }, [model.dagId, model.runId].filter(Boolean).join(' / ')) : '—'),
              h('dt', {}, 'Promoted'),
              h('dd', {}, model.promotedAt ? `${fmtDate(model.promotedAt)} by ${model.promotedBy ?? '?'}` : '—'),
            ),
            model.error ? [h('h3', {}, 'Error'), h('pre', { class: 'log error-text' }, model.error)] : null,
          ),
          h('div', { class: 'card' }, h('h2', {}, 'Metrics'), metricsTable(model.metrics, metricNames.length ? metricNames : HEADLINE_METRICS, false)),
          h('div', { class: 'card' }, h('h2', {}, 'Row counts'), kvTable(Object.entries(model.rowCounts ?? {}).sort(([a], [b]) => a.localeCompare(b)), (v) => Number(v).toLocaleString(), 'model-row-counts')),
          h('div', { class: 'card' }, h('h2', {}, 'Parameters'), kvTable(Object.entries(model.params ?? {}).sort(([a], [b]) => a.localeCompare(b)), (v) => (typeof v === 'string' ? v : JSON.stringify(v)), 'model-params')),
        ),
      ),
    );
  }
  await render();
  return () => {};
}
