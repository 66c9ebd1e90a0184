// @ts-check
// The grid's side panel for a selected run: its facts, conf, and "clear failed tasks".
import { enc } from '../lib/api.js';
import { h, put } from '../lib/dom.js';
import { durationOf, fmtDate, fmtDuration } from '../lib/format.js';
import { badge, jsonBlock } from '../lib/widgets.js';

/** @typedef {import('../lib/types.js').ClearResult} ClearResult */

/**
 * @param {import('./grid.js').GridContext} ctx
 * @param {import('../lib/types.js').Grid} grid
 * @param {import('../lib/types.js').DagRun} run
 */
export function renderRunPanel({ dagId, panel, operator, act }, grid, run) {
  const failed = grid.taskInstances.filter((c) => c.dagRunId === run.id && (c.state === 'failed' || c.state === 'upstream_failed'));
  put(
    panel,
    h('h2', {}, 'Run'),
    h('p', { class: 'mono break' }, run.runId),
    badge(run.state, { 'data-testid': 'run-state' }),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Type'),
      h('dd', {}, run.runType),
      h('dt', {}, 'Logical date'),
      h('dd', {}, fmtDate(run.logicalDate)),
      h('dt', {}, 'Started'),
      h('dd', {}, fmtDate(run.startDate)),
      h('dt', {}, 'Ended'),
      h('dd', {}, fmtDate(run.endDate)),
      h('dt', {}, 'Duration'),
      h('dd', {}, fmtDuration(durationOf(run.startDate, run.endDate))),
      h('dt', {}, 'Triggered by'),
      h('dd', {}, run.triggeredBy ?? '—'),
    ),
    h('h3', {}, 'Conf'),
    jsonBlock(run.conf),
    h(
      'div',
      { class: 'row-actions' },
      h(
        'button',
        {
          type: 'button',
          disabled: !operator || failed.length === 0,
          title: !operator ? 'Needs the operator role' : failed.length === 0 ? 'No failed tasks' : `Clear ${failed.map((c) => c.taskId).join(', ')}`,
          onclick: () =>
            act(/** @param {ClearResult} r */ (r) => `Cleared ${r.cleared.join(', ') || 'nothing'}`, 'POST', `/dags/${enc(dagId)}/runs/${enc(run.runId)}/clear`, {}),
        },
        `↻ Clear failed tasks (${failed.length})`,
      ),
    ),
  );
}
