// @ts-check
// Pieces of the model registry pages (list and one version): stage badges, training status,
// the metrics table per candidate, and the promote button with its confirmation.
import { api, canOperate, enc } from '../lib/api.js';
import { h } from '../lib/dom.js';
import { fmtMetric } from '../lib/format.js';
import { confirmDialog, toast } from '../lib/widgets.js';
import { stateInfo } from '../states.js';

/** @typedef {import('../lib/types.js').ModelVersion} ModelVersion */
/** @typedef {import('../lib/types.js').ModelMetrics} ModelMetrics */
/** @typedef {import('../states.js').StateStyle} StateStyle */

/** @type {Readonly<Record<import('../lib/types.js').ModelStage, StateStyle>>} */
export const MODEL_STAGES = {
  production: { color: '#009E73', fg: '#ffffff', glyph: '★', label: 'production' },
  candidate: { color: '#56B4E9', fg: '#00263d', glyph: '◆', label: 'candidate' },
  archived: { color: '#E4E7EB', fg: '#3a434d', glyph: '▪', label: 'archived' },
  failed: { color: '#D55E00', fg: '#ffffff', glyph: '✕', label: 'failed' },
};
/** A training status in the task state colours. @type {Readonly<Record<string, string>>} */
const MODEL_STATUS_STATE = { running: 'running', succeeded: 'success', failed: 'failed' };
const METRIC_CANDIDATES = ['ranker', 'heuristics', 'popularity', 'baseline'];
export const HEADLINE_METRICS = ['ndcg@10', 'recall@10'];

/** @param {string} stage */
export function stageBadge(stage) {
  /** @type {Readonly<Record<string, StateStyle>>} */
  const stages = MODEL_STAGES;
  const info = stages[stage] ?? { color: '#eeeeee', fg: '#000000', glyph: '?', label: String(stage) };
  return h(
    'span',
    { class: `badge stage-${stage}`, style: { background: info.color, color: info.fg }, 'data-testid': 'model-stage' },
    h('span', { class: 'glyph', 'aria-hidden': 'true' }, info.glyph),
    ` ${info.label}`,
  );
}

/** @param {string} status */
export function modelStatus(status) {
  const info = stateInfo(MODEL_STATUS_STATE[status] ?? status);
  return h('span', { class: 'model-status', title: status }, h('span', { class: 'sq', style: { background: info.color, color: info.fg }, 'aria-hidden': 'true' }, info.glyph), ` ${status}`);
}

/**
 * Candidates in display order: the known four first, then any others.
 * @param {ModelMetrics | null | undefined} metrics
 */
function candidatesOf(metrics) {
  const names = Object.keys(metrics ?? {});
  return [...METRIC_CANDIDATES.filter((c) => names.includes(c)), ...names.filter((c) => !METRIC_CANDIDATES.includes(c)).sort()];
}

/**
 * A table of metrics per candidate; the best value of each metric is marked (bold, ▲, and said in its title).
 * @param {ModelMetrics} metrics
 * @param {string[]} names the metrics (columns), in order
 * @param {boolean} compact
 */
export function metricsTable(metrics, names, compact) {
  const candidates = candidatesOf(metrics);
  if (candidates.length === 0) return h('span', { class: 'muted', 'data-testid': 'model-metrics' }, 'no metrics');
  /** @type {Record<string, number | null>} */
  const best = Object.fromEntries(
    names.map((n) => {
      const values = candidates.map((c) => metrics[c]?.[n]).filter(/** @returns {v is number} */ (v) => typeof v === 'number' && Number.isFinite(v));
      return [n, values.length > 1 ? Math.max(...values) : null];
    }),
  );
  return h(
    'table',
    { class: `metrics${compact ? ' compact' : ''}`, 'data-testid': 'model-metrics' },
    h('thead', {}, h('tr', {}, h('th', {}, 'candidate'), names.map((n) => h('th', { class: 'num' }, n)))),
    h(
      'tbody',
      {},
      candidates.map((c) =>
        h(
          'tr',
          { 'data-candidate': c, class: c === 'ranker' ? 'ranker' : null },
          h('th', { scope: 'row' }, c),
          names.map((n) => {
            const value = metrics[c]?.[n];
            const isBest = best[n] !== null && value === best[n];
            return h(
              'td',
              { class: `num${isBest ? ' best' : ''}`, title: isBest ? `best ${n}` : null, 'data-metric': n },
              fmtMetric(value),
              isBest ? h('span', { class: 'best-mark', 'aria-label': ' (best)' }, ' ▲') : null,
            );
          }),
        ),
      ),
    ),
  );
}

/**
 * "Promote", disabled with the reason in its title when it cannot be (role, stage, status).
 * @param {ModelVersion} model
 * @param {ModelVersion | null} production the model's version in production now, if any
 * @param {() => Promise<unknown>} onDone
 */
export function promoteButton(model, production, onDone) {
  const why =
    !canOperate() ? 'Promoting needs the operator role'
    : model.stage === 'production' ? 'Already in production'
    : model.status !== 'succeeded' ? `Only a succeeded model can be promoted (this one is ${model.status})`
    : null;
  return h(
    'button',
    {
      type: 'button',
      class: 'promote',
      disabled: why !== null,
      title: why ?? `Put ${model.version} into production`,
      'data-testid': 'promote',
      onclick: () =>
        confirmDialog({
          title: `Promote ${model.version}?`,
          body: [
            `${model.version} (${model.backend}) becomes the production ${model.modelName}: the next ranking run uses it.`,
            production && production.version !== model.version ? `The current production model, ${production.version}, will be archived.` : 'No model is in production now.',
          ],
          confirm: 'Promote to production',
          onConfirm: async () => {
            /** @type {import('../lib/types.js').PromoteResult} */
            const result = await api('POST', `/models/${enc(model.version)}/promote`);
            toast(`${result.version} is in production${result.previous ? ` (${result.previous} archived)` : ''}`);
            await onDone();
          },
        }),
    },
    'Promote',
  );
}
