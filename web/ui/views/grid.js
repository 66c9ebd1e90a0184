// @ts-check
// One DAG (#/dags/:dagId?run=…&task=…): the grid of runs by task, and the side panel for the
// selected run or task instance. Polls while a run is active.
import { api, canOperate, enc, messageOf } from '../lib/api.js';
import { app, h, put } from '../lib/dom.js';
import { durationOf, fmtDate, fmtDuration } from '../lib/format.js';
import { errorBox, legend, poller, toast } from '../lib/widgets.js';
import { ACTIVE_RUN_STATES, stateInfo } from '../states.js';
import { closeActionDialogs } from './action-dialog.js';
import { renderRunPanel } from './run-panel.js';
import { renderTaskPanel } from './task-panel.js';
import { triggerDialog } from './trigger-dialog.js';

/** @typedef {import('../lib/types.js').Dag} Dag */
/** @typedef {import('../lib/types.js').Grid} Grid */
/** @typedef {import('../lib/types.js').StoredTask} StoredTask */

/**
 * What is selected and shown; the URL keeps the run and task (a reload comes back to them).
 * @typedef {object} GridState
 * @property {string | null} selectedRun
 * @property {string | null} selectedTask
 * @property {number | null} selectedTry
 * @property {boolean} followLatestTry a refresh moves to a new try (false once the reader picks an older one)
 * @property {boolean} downstream the clear dialog's "downstream" box, checked at first
 * @property {Grid | null} grid null until the first load
 * @property {number} panelRender counts the side panel's renders: a render that a later one overtook drops its result
 * @property {number} limit
 * @property {() => void} [poke]
 */

/**
 * What the side panels share with the grid.
 * @typedef {object} GridContext
 * @property {string} dagId
 * @property {HTMLElement} panel
 * @property {GridState} state
 * @property {boolean} operator
 * @property {() => void} refresh reloads the grid and the panel (after an action)
 */

/**
 * Task ids with every task after its upstream tasks (the grid's rows, top to bottom).
 * @param {StoredTask[]} tasks
 */
function topoOrder(tasks) {
  const byId = new Map(tasks.map((t) => [t.taskId, t]));
  /** @type {Set<string>} */
  const seen = new Set();
  /** @type {string[]} */
  const order = [];
  /** @param {string} id */
  const visit = (id) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const up of byId.get(id)?.upstream ?? []) visit(up);
    order.push(id);
  };
  for (const t of tasks) visit(t.taskId);
  return order;
}

/**
 * @param {string} dagId
 * @param {URLSearchParams} params
 */
export async function viewGrid(dagId, params) {
  /** @type {GridState} */
  const state = {
    selectedRun: params.get('run'),
    selectedTask: params.get('task'),
    selectedTry: null,
    followLatestTry: true,
    downstream: true,
    grid: null,
    panelRender: 0,
    limit: 25,
  };
  const operator = canOperate();
  const head = h('div', { class: 'page-head' });
  const gridBox = h('div', { class: 'grid-box', 'data-testid': 'grid' });
  const panel = h('aside', { class: 'panel', 'aria-label': 'Details', 'data-testid': 'panel' });
  put(app, h('section', { class: 'page grid-page' }, head, h('div', { class: 'split' }, gridBox, panel)));

  function setQuery() {
    const q = new URLSearchParams();
    if (state.selectedRun) q.set('run', state.selectedRun);
    if (state.selectedTask) q.set('task', state.selectedTask);
    const hash = `#/dags/${enc(dagId)}${q.size ? `?${q}` : ''}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
  }

  /** @type {GridContext} */
  const ctx = { dagId, panel, state, operator, refresh: () => void refresh().catch((e) => toast(messageOf(e), 'error')) };

  /** @param {Dag} dag */
  function renderHead(dag) {
    put(
      head,
      h('div', {}, h('a', { href: '#/dags', class: 'muted small' }, '← DAGs'), h('h1', {}, dag.dagId, dag.isPaused ? h('span', { class: 'tag paused' }, 'paused') : null)),
      h(
        'div',
        { class: 'head-meta' },
        h('span', {}, dag.schedule ? h('code', {}, dag.schedule) : 'manual', dag.schedule ? ` (${dag.timezone})` : ''),
        h('span', {}, 'Next run: ', dag.nextRun ? fmtDate(dag.nextRun.logicalDate, true) : '—'),
        h(
          'button',
          { type: 'button', disabled: !operator, title: operator ? '' : 'Needs the operator role', onclick: () => triggerDialog(dag, () => void refresh().catch((e) => toast(messageOf(e), 'error'))) },
          '▶ Trigger',
        ),
      ),
      legend(),
    );
  }

  /** @param {Grid} grid */
  function renderGrid(grid) {
    const runs = [...grid.runs].reverse(); // oldest left, newest right (as Airflow)
    const taskIds = topoOrder(grid.dag.tasks);
    const cells = new Map(grid.taskInstances.map((c) => [`${c.dagRunId}\u0000${c.taskId}`, c]));
    const maxDuration = Math.max(1, ...runs.map((r) => durationOf(r.startDate, r.endDate) ?? 0));
    const table = h(
      'table',
      { class: 'grid', role: 'grid', 'aria-label': `Runs of ${dagId} by task` },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { class: 'task-col', scope: 'col' }, runs.length === 1 ? '1 run' : runs.length ? `${runs.length} runs` : ''),
          runs.map((run) => {
            const info = stateInfo(run.state);
            const d = durationOf(run.startDate, run.endDate);
            const height = d ? Math.max(6, Math.round((d / maxDuration) * 48)) : 6;
            return h(
              'th',
              { scope: 'col', class: `run-col ${state.selectedRun === run.runId ? 'selected' : ''}` },
              h(
                'button',
                {
                  type: 'button',
                  class: 'run-bar',
                  'data-run': run.runId,
                  'data-state': run.state,
                  title: `${run.runId}\n${info.label} · ${fmtDuration(d)}`,
                  'aria-label': `run ${run.runId} ${info.label}`,
                  onclick: () => {
                    state.selectedRun = run.runId;
                    state.selectedTask = null;
                    setQuery();
                    renderAll();
                  },
                },
                h('span', { class: 'bar', style: { height: `${height}px`, background: info.color, color: info.fg } }, info.glyph),
              ),
            );
          }),
        ),
      ),
      h(
        'tbody',
        {},
        taskIds.map((taskId) =>
          h(
            'tr',
            { class: state.selectedTask === taskId ? 'selected' : '' },
            h('th', { scope: 'row', class: 'task-col', title: taskId }, taskId),
            runs.map((run) => {
              const cell = cells.get(`${run.id}\u0000${taskId}`);
              const s = cell?.state ?? 'none';
              const info = stateInfo(s);
              const selected = state.selectedRun === run.runId && state.selectedTask === taskId;
              return h(
                'td',
                { class: selected ? 'selected' : '' },
                h(
                  'button',
                  {
                    type: 'button',
                    class: `cell state-${s}`,
                    style: { background: info.color, color: info.fg },
                    'data-run': run.runId,
                    'data-task': taskId,
                    'data-state': s,
                    title: `${taskId} · ${run.runId}\n${info.label}${cell && cell.tryNumber > 0 ? ` · try ${cell.tryNumber}/${cell.maxTries}` : ''}${cell?.durationMs != null ? ` · ${fmtDuration(cell.durationMs)}` : ''}`,
                    'aria-label': `${taskId} in ${run.runId}: ${info.label}`,
                    onclick: () => {
                      state.selectedRun = run.runId;
                      state.selectedTask = taskId;
                      state.selectedTry = null;
                      state.followLatestTry = true;
                      setQuery();
                      renderAll();
                    },
                  },
                  info.glyph,
                ),
              );
            }),
          ),
        ),
      ),
    );
    const older = grid.nextCursor
      ? h('button', { type: 'button', class: 'link', onclick: async () => ((state.limit = Math.min(500, state.limit + 25)), await refresh()) }, 'Show older runs')
      : null;
    put(gridBox, runs.length ? table : h('p', { class: 'muted' }, 'No runs yet.'), older);
  }

  async function renderPanel() {
    const grid = state.grid;
    if (!grid) return;
    const run = grid.runs.find((r) => r.runId === state.selectedRun);
    if (!run) {
      state.panelRender += 1;
      panel.dataset.shows = '';
      put(panel, h('p', { class: 'muted' }, 'Select a run (top bars) or a task instance (a square) to see its details.'));
      return;
    }
    if (state.selectedTask) await renderTaskPanel(ctx, run, state.selectedTask);
    else {
      state.panelRender += 1;
      panel.dataset.shows = `run\u0000${run.runId}`;
      renderRunPanel(ctx, grid, run);
    }
  }

  function renderAll() {
    if (state.grid) renderGrid(state.grid);
    void renderPanel().catch((e) => put(panel, errorBox(e)));
  }

  async function refresh() {
    /** @type {Grid} */
    const grid = await api('GET', `/dags/${enc(dagId)}/grid?limit=${state.limit}`);
    state.grid = grid;
    renderHead(grid.dag);
    renderGrid(grid);
    state.poke?.();
    await renderPanel();
  }

  try {
    await refresh();
  } catch (e) {
    put(app, errorBox(e));
    return () => {};
  }
  // Every 1.5 s while a run is queued or running, else every 10 s.
  const stop = poller(refresh, () => (state.grid && state.grid.runs.some((r) => ACTIVE_RUN_STATES.has(r.state)) ? 1500 : 10000));
  state.poke = stop.poke;
  return () => {
    stop();
    closeActionDialogs();
  };
}
