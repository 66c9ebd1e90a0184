// @ts-check
// The grid's side panel for a selected task instance: facts, clear / mark actions, tries, the
// selected try's log, error and output.
import { api, ApiError, enc } from '../lib/api.js';
import { h, put } from '../lib/dom.js';
import { durationOf, fmtDate, fmtDuration } from '../lib/format.js';
import { badge, errorBox, jsonBlock } from '../lib/widgets.js';
import { actionDialog } from './action-dialog.js';

/** @typedef {import('../lib/types.js').ClearResult} ClearResult */
/** @typedef {import('../lib/types.js').MarkResult} MarkResult */
/** @typedef {import('../lib/types.js').LogPage} LogPage */

/**
 * @param {import('./grid.js').GridContext} ctx
 * @param {import('../lib/types.js').DagRun} run
 * @param {string} taskId
 * @returns {Promise<void>}
 */
export async function renderTaskPanel(ctx, run, taskId) {
  const { dagId, panel, state, operator, refresh } = ctx;
  const base = `/dags/${enc(dagId)}/runs/${enc(run.runId)}/taskInstances/${enc(taskId)}`;
  // This render is the latest: one started after it (another cell, a refresh) makes it stale.
  const render = (state.panelRender += 1);
  const stale = () => render !== state.panelRender;
  const shows = `task\u0000${run.runId}\u0000${taskId}`;
  if (panel.dataset.shows !== shows) {
    // Another task instance: the previous one's buttons go at once, before this one's fetch
    // returns (a quick "click a cell → Mark failed" must never act on the previous task).
    panel.dataset.shows = shows;
    put(
      panel,
      h('div', { class: 'panel-head panel-loading', 'aria-busy': 'true' }, h('h2', { 'data-testid': 'panel-task' }, taskId), h('span', { class: 'muted' }, 'Loading…')),
      h('p', { class: 'mono small break muted' }, run.runId),
    );
  }
  /** @type {import('../lib/types.js').TaskInstance} */
  let ti;
  try {
    ti = await api('GET', base);
  } catch (e) {
    if (stale()) return;
    if (e instanceof ApiError && e.status === 404) {
      put(panel, h('h2', {}, taskId), h('p', { class: 'muted' }, 'This task has no instance in this run yet.'));
      return;
    }
    throw e;
  }
  if (stale()) return;
  const tries = ti.tries;
  if (state.followLatestTry || !tries.some((t) => t.tryNumber === state.selectedTry)) state.selectedTry = tries.at(-1)?.tryNumber ?? null;
  const selected = tries.find((t) => t.tryNumber === state.selectedTry) ?? null;
  /** @type {LogPage['lines']} */
  let logLines = [];
  /** @type {unknown} */
  let logError = null;
  if (selected) {
    try {
      /** @type {LogPage} */
      const page = await api('GET', `${base}/tries/${selected.tryNumber}/logs?limit=5000`);
      logLines = page.lines;
    } catch (e) {
      logError = e;
    }
    if (stale()) return;
  }
  const definition = state.grid?.dag.tasks.find((t) => t.taskId === taskId);
  const disabledTitle = operator ? null : 'Needs the operator role';
  /**
   * @param {string} label
   * @param {string} testid
   * @param {() => void} onclick
   */
  const actionButton = (label, testid, onclick, disabled = false) =>
    h('button', { type: 'button', 'data-testid': testid, 'data-task': taskId, 'data-run': run.runId, disabled: !operator || disabled, title: disabledTitle, onclick }, label);
  // Everything a dialog acts on is fixed here, from this panel's own fetch: the run, the task,
  // and the try and state it showed (the API refuses with 409 if they changed meanwhile).
  const subject = `${taskId} · try ${ti.tryNumber} · ${ti.state} · ${run.runId}`;
  const guard = { expectedTryNumber: ti.tryNumber, expectedState: ti.state };
  const openClear = () =>
    actionDialog({
      kind: 'clear',
      title: `Clear ${taskId}`,
      subject,
      confirm: 'Clear',
      method: 'POST',
      path: `${base}/clear`,
      body: guard,
      scopes: [
        { key: 'upstream', label: 'upstream', checked: false },
        { key: 'downstream', label: 'downstream', checked: state.downstream },
        { key: 'onlyFailed', label: 'failed only', checked: false },
      ],
      done: (r) => `Cleared ${/** @type {ClearResult} */ (r).cleared.join(', ') || 'nothing'}`,
      onDone: refresh,
    });
  /** @param {'success' | 'failed'} to */
  const openMark = (to) =>
    actionDialog({
      kind: `mark-${to}`,
      title: `Mark ${taskId} ${to}`,
      subject,
      confirm: `Mark ${to}`,
      method: 'PATCH',
      path: base,
      body: { state: to, ...guard },
      scopes: [
        { key: 'downstream', label: 'downstream', checked: false },
        { key: 'upstream', label: 'upstream', checked: false },
      ],
      done: (r) => `Marked ${r.taskInstances.map((c) => c.taskId).join(', ')} ${to} (run ${/** @type {MarkResult} */ (r).runState})`,
      onDone: refresh,
    });

  // A refresh keeps where the reader was.
  const panelScroll = panel.scrollTop;
  const oldLog = panel.querySelector('pre.log');
  const logScroll = oldLog ? { top: oldLog.scrollTop, atEnd: oldLog.scrollTop + oldLog.clientHeight >= oldLog.scrollHeight - 4 } : null;
  put(
    panel,
    h('div', { class: 'panel-head' }, h('h2', { 'data-testid': 'panel-task' }, taskId), badge(ti.state, { 'data-testid': 'task-state' })),
    h('p', { class: 'mono small break muted' }, run.runId),
    definition?.doc ? h('p', { class: 'doc' }, definition.doc) : null,
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Try'),
      h('dd', {}, `${ti.tryNumber} of ${ti.maxTries}`),
      h('dt', {}, 'Pool'),
      h('dd', {}, ti.pool),
      h('dt', {}, 'Trigger rule'),
      h('dd', {}, definition?.triggerRule ?? '—'),
      ti.nextRetryAt ? [h('dt', {}, 'Next retry'), h('dd', {}, fmtDate(ti.nextRetryAt))] : null,
    ),
    h(
      'div',
      { class: 'actions-box', role: 'group', 'aria-label': 'Task actions' },
      h('div', { class: 'row-actions' }, actionButton('↻ Clear…', 'clear-task', openClear)),
      h(
        'div',
        { class: 'row-actions' },
        actionButton('✓ Mark success…', 'mark-success', () => openMark('success'), ti.state === 'success'),
        actionButton('✕ Mark failed…', 'mark-failed', () => openMark('failed'), ti.state === 'failed'),
      ),
      operator ? null : h('p', { class: 'muted small' }, 'Viewers cannot change task state.'),
    ),
    h('h3', {}, 'Tries'),
    tries.length === 0
      ? h('p', { class: 'muted' }, 'Not run yet.')
      : h(
          'table',
          { class: 'table tries', 'data-testid': 'tries' },
          h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'State'), h('th', {}, 'Start'), h('th', {}, 'End'), h('th', {}, 'Duration'))),
          h(
            'tbody',
            {},
            tries.map((t) =>
              h(
                'tr',
                {
                  class: `try-row ${t.tryNumber === state.selectedTry ? 'selected' : ''}`,
                  tabindex: 0,
                  'data-try': t.tryNumber,
                  onclick: () => {
                    state.selectedTry = t.tryNumber;
                    state.followLatestTry = t.tryNumber === tries.at(-1)?.tryNumber;
                    void renderTaskPanel(ctx, run, taskId);
                  },
                  onkeydown: (event) => {
                    if (event.key === 'Enter') /** @type {HTMLElement} */ (event.currentTarget).click();
                  },
                },
                h('td', {}, t.tryNumber),
                h('td', {}, badge(t.state)),
                h('td', {}, fmtDate(t.startDate, true)),
                h('td', {}, fmtDate(t.endDate, true)),
                h('td', {}, fmtDuration(t.durationMs ?? (t.current ? durationOf(t.startDate, null) : null))),
              ),
            ),
          ),
        ),
    selected
      ? h(
          'section',
          { class: 'try-detail' },
          h('h3', {}, `Log · try ${selected.tryNumber}`),
          logError
            ? errorBox(logError)
            : h(
                'pre',
                { class: 'log', 'data-testid': 'log' },
                logLines.length === 0
                  ? 'No log lines yet.'
                  : logLines.map((l) => h('span', { class: `log-line level-${l.level}` }, `${l.loggedAt.slice(11, 23)} ${l.level.toUpperCase().padEnd(5)} ${l.message}\n`)),
              ),
          selected.error ? [h('h3', {}, 'Error'), h('pre', { class: 'log error-text', 'data-testid': 'try-error' }, selected.error)] : null,
          h('h3', {}, 'Output (XCom return_value)'),
          jsonBlock(selected.output),
        )
      : null,
  );
  panel.scrollTop = panelScroll;
  const newLog = panel.querySelector('pre.log');
  if (newLog && logScroll) newLog.scrollTop = logScroll.atEnd ? newLog.scrollHeight : logScroll.top;
}
