// @ts-check
// The grid's side panel for a selected run: its facts, conf, "clear failed tasks" and "mark
// the run success / failed", each through the confirm dialog that lists what it changes.
import { enc } from '../lib/api.js';
import { h, put } from '../lib/dom.js';
import { durationOf, fmtDate, fmtDuration } from '../lib/format.js';
import { badge, jsonBlock } from '../lib/widgets.js';
import { actionDialog } from './action-dialog.js';

/** @typedef {import('../lib/types.js').ClearResult} ClearResult */
/** @typedef {import('../lib/types.js').MarkResult} MarkResult */

/**
 * @param {import('./grid.js').GridContext} ctx
 * @param {import('../lib/types.js').Grid} grid
 * @param {import('../lib/types.js').DagRun} run
 */
export function renderRunPanel({ dagId, panel, operator, refresh }, grid, run) {
  const failed = grid.taskInstances.filter((c) => c.dagRunId === run.id && (c.state === 'failed' || c.state === 'upstream_failed'));
  const path = `/dags/${enc(dagId)}/runs/${enc(run.runId)}`;
  const subject = `${dagId} · ${run.runId} · ${run.state}`;
  const needsOperator = operator ? null : 'Needs the operator role';
  /** @param {'success' | 'failed'} to */
  const openMark = (to) =>
    actionDialog({
      kind: `mark-run-${to}`,
      title: `Mark run ${to}`,
      subject,
      confirm: `Mark ${to}`,
      method: 'PATCH',
      path,
      body: { state: to },
      scopes: [],
      done: (r) => `Marked ${r.taskInstances.map((c) => c.taskId).join(', ')} ${to} (run ${/** @type {MarkResult} */ (r).runState})`,
      onDone: refresh,
    });
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
          'data-testid': 'clear-failed',
          disabled: !operator || failed.length === 0,
          title: needsOperator ?? (failed.length === 0 ? 'No failed tasks' : `Clear ${failed.map((c) => c.taskId).join(', ')}`),
          onclick: () =>
            actionDialog({
              kind: 'clear-failed',
              title: 'Clear failed tasks',
              subject,
              confirm: 'Clear',
              method: 'POST',
              path: `${path}/clear`,
              body: {},
              scopes: [],
              done: (r) => `Cleared ${/** @type {ClearResult} */ (r).cleared.join(', ') || 'nothing'}`,
              onDone: refresh,
            }),
        },
        `↻ Clear failed tasks (${failed.length})…`,
      ),
      h('button', { type: 'button', 'data-testid': 'mark-run-success', disabled: !operator, title: needsOperator, onclick: () => openMark('success') }, '✓ Mark run success…'),
      h('button', { type: 'button', 'data-testid': 'mark-run-failed', disabled: !operator, title: needsOperator, onclick: () => openMark('failed') }, '✕ Mark run failed…'),
    ),
  );
}
