// Flywheel operator UI: plain ES modules, no build step. Every value from the API reaches the
// page through textContent or attributes (never innerHTML), so data cannot inject markup.
import { ACTIVE_RUN_STATES, LEGEND_ORDER, stateInfo } from './states.js';

const app = document.getElementById('app');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const toastBox = document.getElementById('toast');

const session = { user: null, csrfToken: null };
let stopView = () => {};

// ---------------------------------------------------------------- helpers

/** h('div', { class: 'x', onclick: fn }, child, …): an element; strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children, skipping null / undefined / false. */
function put(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session.csrfToken) headers['x-csrf-token'] = session.csrfToken;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    if (res.status === 401 && session.user && path !== '/session') {
      session.user = null;
      location.hash = `#/login?next=${encodeURIComponent(location.hash)}`;
    }
    throw new ApiError(res.status, data?.error ?? `${res.status} ${res.statusText}`);
  }
  return data;
}

const enc = encodeURIComponent;

function toast(message, kind = 'info') {
  toastBox.textContent = message;
  toastBox.className = `toast toast-${kind}`;
  toastBox.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (toastBox.hidden = true), kind === 'error' ? 8000 : 4000);
}

function canOperate() {
  return session.user && (session.user.role === 'operator' || session.user.role === 'admin');
}

const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const shortFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });

function fmtDate(value, short = false) {
  if (!value) return '—';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : (short ? shortFmt : dateFmt).format(d);
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function durationOf(start, end) {
  if (!start) return null;
  return (end ? new Date(end) : new Date()).getTime() - new Date(start).getTime();
}

function badge(state, extra = {}) {
  const info = stateInfo(state);
  return h(
    'span',
    { class: `badge state-${state}`, style: { background: info.color, color: info.fg }, ...extra },
    h('span', { class: 'glyph', 'aria-hidden': 'true' }, info.glyph || '○'),
    ` ${info.label}`,
  );
}

function stateSquare(state, attrs = {}) {
  const info = stateInfo(state);
  return h(
    'span',
    { class: `sq state-${state}`, style: { background: info.color, color: info.fg }, title: info.label, 'aria-label': info.label, role: 'img', ...attrs },
    info.glyph,
  );
}

function legend() {
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'State legend' },
    LEGEND_ORDER.map((state) => h('li', {}, stateSquare(state), ' ', stateInfo(state).label)),
  );
}

function errorBox(error) {
  return h('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error));
}

function jsonBlock(value) {
  return h('pre', { class: 'json' }, value === null || value === undefined ? 'null' : JSON.stringify(value, null, 2));
}

/**
 * Polls `fn` every `delay()` ms until stopped. `poke()` re-reads the delay now (after an action
 * starts a run, the next refresh comes in 1.5 s, not at the end of a 10 s idle wait).
 */
function poller(fn, delay) {
  let stopped = false;
  let timer;
  let due = 0;
  const schedule = () => {
    clearTimeout(timer);
    const wait = delay();
    due = Date.now() + wait;
    timer = setTimeout(tick, wait);
  };
  const tick = async () => {
    if (stopped) return;
    try {
      await fn();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) console.warn('refresh failed', error);
    }
    if (!stopped) schedule();
  };
  schedule();
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  stop.poke = () => {
    if (!stopped && Date.now() + delay() < due) schedule();
  };
  return stop;
}

// ---------------------------------------------------------------- session

async function loadSession() {
  const data = await api('GET', '/session');
  session.user = data.user;
  session.csrfToken = data.csrfToken ?? null;
}

function renderWho() {
  put(who);
  nav.hidden = !session.user;
  if (!session.user) return;
  who.append(
    h('span', { class: 'who-name', 'data-testid': 'current-user' }, session.user.username),
    h('span', { class: `role role-${session.user.role}` }, session.user.role),
    h(
      'button',
      {
        class: 'link',
        type: 'button',
        onclick: async () => {
          try {
            await api('DELETE', '/session');
          } catch {
            // already gone
          }
          session.user = null;
          session.csrfToken = null;
          location.hash = '#/login';
        },
      },
      'Log out',
    ),
  );
}

function viewLogin(params) {
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h(
    'form',
    {
      class: 'login card',
      onsubmit: async (event) => {
        event.preventDefault();
        error.hidden = true;
        try {
          const data = await api('POST', '/session', { username: username.value, password: password.value });
          session.user = data.user;
          session.csrfToken = data.csrfToken;
          const next = params.get('next');
          location.hash = next && next.startsWith('#/') && !next.startsWith('#/login') ? next : '#/dags';
        } catch (e) {
          error.textContent = e.message;
          error.hidden = false;
          password.select();
        }
      },
    },
    h('h1', {}, 'Sign in to Flywheel'),
    h('label', { for: 'username' }, 'Username'),
    username,
    h('label', { for: 'password' }, 'Password'),
    password,
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  put(app, h('section', { class: 'login-wrap' }, form));
}

// ---------------------------------------------------------------- DAG list

function triggerDialog(dag, onDone) {
  const conf = h('textarea', { id: 'trigger-conf', rows: 8, spellcheck: 'false', 'aria-describedby': 'trigger-help' }, '{}');
  const logicalDate = h('input', { id: 'trigger-date', type: 'datetime-local', step: 1 });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': 'trigger-title' },
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (event) => {
          event.preventDefault();
          error.hidden = true;
          let parsed;
          try {
            parsed = JSON.parse(conf.value || '{}');
          } catch (e) {
            error.textContent = `conf is not JSON: ${e.message}`;
            error.hidden = false;
            return;
          }
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
            error.textContent = 'conf must be a JSON object';
            error.hidden = false;
            return;
          }
          const body = { conf: parsed };
          if (logicalDate.value) body.logicalDate = new Date(logicalDate.value).toISOString();
          try {
            const run = await api('POST', `/dags/${enc(dag.dagId)}/runs`, body);
            dialog.close();
            dialog.remove();
            toast(`Triggered ${dag.dagId}: ${run.runId}`);
            onDone(run);
          } catch (e) {
            error.textContent = e.message;
            error.hidden = false;
          }
        },
      },
      h('h2', { id: 'trigger-title' }, `Trigger ${dag.dagId}`),
      h('label', { for: 'trigger-conf' }, 'Run conf (JSON object)'),
      conf,
      h('p', { id: 'trigger-help', class: 'muted' }, 'Tasks read it as ctx.conf.'),
      h('label', { for: 'trigger-date' }, 'Logical date (optional, default now)'),
      logicalDate,
      error,
      h(
        'div',
        { class: 'row-actions' },
        h('button', { type: 'button', onclick: () => (dialog.close(), dialog.remove()) }, 'Cancel'),
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'trigger-submit' }, 'Trigger'),
      ),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
}

async function viewDags() {
  const container = h('section', { class: 'page' });
  put(app, container);
  const operator = canOperate();

  async function render() {
    const data = await api('GET', '/dags');
    const rows = data.dags.map((dag) =>
      h(
        'tr',
        { 'data-dag': dag.dagId },
        h(
          'td',
          {},
          h(
            'label',
            { class: 'switch', title: operator ? (dag.isPaused ? 'Paused: click to unpause' : 'Active: click to pause') : 'Needs the operator role' },
            h('input', {
              type: 'checkbox',
              role: 'switch',
              checked: !dag.isPaused,
              disabled: !operator,
              'aria-label': `${dag.dagId} active`,
              onchange: async (event) => {
                try {
                  await api('PATCH', `/dags/${enc(dag.dagId)}`, { isPaused: !event.target.checked });
                  toast(`${dag.dagId} ${event.target.checked ? 'unpaused' : 'paused'}`);
                } catch (e) {
                  event.target.checked = !event.target.checked;
                  toast(e.message, 'error');
                }
                await render();
              },
            }),
            h('span', { class: 'slider', 'aria-hidden': 'true' }),
          ),
        ),
        h(
          'td',
          {},
          h('a', { href: `#/dags/${enc(dag.dagId)}`, class: 'dag-link' }, dag.dagId),
          dag.description ? h('div', { class: 'muted small' }, dag.description) : null,
          dag.tags.length ? h('div', { class: 'tags' }, dag.tags.map((t) => h('span', { class: 'tag' }, t))) : null,
        ),
        h('td', {}, dag.schedule ? h('code', {}, dag.schedule) : h('span', { class: 'muted' }, 'manual'), dag.schedule ? h('div', { class: 'muted small' }, dag.timezone) : null),
        h(
          'td',
          {},
          dag.nextRun
            ? fmtDate(dag.nextRun.logicalDate, true)
            : h('span', { class: 'muted' }, !dag.schedule ? '—' : dag.isPaused ? 'paused' : 'at the next scheduler pass'),
        ),
        h(
          'td',
          {},
          h(
            'div',
            { class: 'recent' },
            dag.recentRuns.length === 0
              ? h('span', { class: 'muted' }, 'no runs')
              : [...dag.recentRuns]
                  .reverse()
                  .map((run) =>
                    h('a', { href: `#/dags/${enc(dag.dagId)}?run=${enc(run.runId)}`, title: `${run.runId}: ${run.state}` }, stateSquare(run.state, { 'aria-label': `${run.runId} ${run.state}` })),
                  ),
          ),
        ),
        h(
          'td',
          { class: 'actions' },
          h(
            'button',
            {
              type: 'button',
              disabled: !operator,
              title: operator ? `Trigger ${dag.dagId}` : 'Needs the operator role',
              'data-testid': `trigger-${dag.dagId}`,
              onclick: () => triggerDialog(dag, () => (location.hash = `#/dags/${enc(dag.dagId)}`)),
            },
            '▶ Trigger',
          ),
        ),
      ),
    );
    put(container, 
      h('div', { class: 'page-head' }, h('h1', {}, 'DAGs'), legend()),
      h(
        'table',
        { class: 'table dags' },
        h('thead', {}, h('tr', {}, h('th', { class: 'narrow' }, 'Active'), h('th', {}, 'DAG'), h('th', {}, 'Schedule'), h('th', {}, 'Next run'), h('th', {}, 'Recent runs (newest right)'), h('th', {}, ''))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No DAGs yet: the scheduler registers them from the DAGs folder.'))),
      ),
      data.importErrors.length
        ? h('section', { class: 'card warn' }, h('h2', {}, 'Import errors'), data.importErrors.map((e) => h('pre', {}, `${e.filename}\n${e.message}`)))
        : null,
    );
    return data;
  }

  let active = false;
  try {
    const data = await render();
    active = data.dags.some((d) => d.activeRuns > 0);
  } catch (e) {
    put(container, errorBox(e));
  }
  return poller(async () => {
    const data = await render();
    active = data.dags.some((d) => d.activeRuns > 0);
  }, () => (active ? 2000 : 10000));
}

// ---------------------------------------------------------------- grid + task panel

function topoOrder(tasks) {
  const byId = new Map(tasks.map((t) => [t.taskId, t]));
  const seen = new Set();
  const order = [];
  const visit = (id) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const up of byId.get(id)?.upstream ?? []) visit(up);
    order.push(id);
  };
  for (const t of tasks) visit(t.taskId);
  return order;
}

async function viewGrid(dagId, params) {
  const state = {
    selectedRun: params.get('run'),
    selectedTask: params.get('task'),
    selectedTry: null,
    followLatestTry: true,
    downstream: true,
    grid: null,
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

  async function act(label, method, path, body) {
    try {
      const result = await api(method, path, body);
      toast(label(result));
      await refresh();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  function renderHead(dag) {
    put(head, 
      h('div', {}, h('a', { href: '#/dags', class: 'muted small' }, '← DAGs'), h('h1', {}, dag.dagId, dag.isPaused ? h('span', { class: 'tag paused' }, 'paused') : null)),
      h(
        'div',
        { class: 'head-meta' },
        h('span', {}, dag.schedule ? h('code', {}, dag.schedule) : 'manual', dag.schedule ? ` (${dag.timezone})` : ''),
        h('span', {}, 'Next run: ', dag.nextRun ? fmtDate(dag.nextRun.logicalDate, true) : '—'),
        h(
          'button',
          { type: 'button', disabled: !operator, title: operator ? '' : 'Needs the operator role', onclick: () => triggerDialog(dag, () => refresh()) },
          '▶ Trigger',
        ),
      ),
      legend(),
    );
  }

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

  async function renderRunPanel(run) {
    const failed = state.grid.taskInstances.filter((c) => c.dagRunId === run.id && (c.state === 'failed' || c.state === 'upstream_failed'));
    put(panel, 
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
            onclick: () => act((r) => `Cleared ${r.cleared.join(', ') || 'nothing'}`, 'POST', `/dags/${enc(dagId)}/runs/${enc(run.runId)}/clear`, {}),
          },
          `↻ Clear failed tasks (${failed.length})`,
        ),
      ),
    );
  }

  async function renderTaskPanel(run, taskId) {
    const base = `/dags/${enc(dagId)}/runs/${enc(run.runId)}/taskInstances/${enc(taskId)}`;
    let ti;
    try {
      ti = await api('GET', base);
    } catch (e) {
      if (e.status === 404) {
        put(panel, h('h2', {}, taskId), h('p', { class: 'muted' }, 'This task has no instance in this run yet.'));
        return;
      }
      throw e;
    }
    const tries = ti.tries;
    if (state.followLatestTry || !tries.some((t) => t.tryNumber === state.selectedTry)) state.selectedTry = tries.at(-1)?.tryNumber ?? null;
    const selected = tries.find((t) => t.tryNumber === state.selectedTry) ?? null;
    let logLines = [];
    let logError = null;
    if (selected) {
      try {
        logLines = (await api('GET', `${base}/tries/${selected.tryNumber}/logs?limit=5000`)).lines;
      } catch (e) {
        logError = e;
      }
    }
    const definition = state.grid.dag.tasks.find((t) => t.taskId === taskId);
    const downstream = h('input', {
      type: 'checkbox',
      id: 'clear-downstream',
      checked: state.downstream,
      onchange: (event) => (state.downstream = event.target.checked),
    });
    const disabledTitle = operator ? null : 'Needs the operator role';
    const actionButton = (label, testid, onclick, disabled = false) =>
      h('button', { type: 'button', 'data-testid': testid, disabled: !operator || disabled, title: disabledTitle, onclick }, label);

    // A refresh keeps where the reader was.
    const panelScroll = panel.scrollTop;
    const oldLog = panel.querySelector('pre.log');
    const logScroll = oldLog ? { top: oldLog.scrollTop, atEnd: oldLog.scrollTop + oldLog.clientHeight >= oldLog.scrollHeight - 4 } : null;
    put(panel, 
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
        h(
          'div',
          { class: 'row-actions' },
          actionButton('↻ Clear', 'clear-task', () =>
            act((r) => `Cleared ${r.cleared.join(', ')}`, 'POST', `${base}/clear`, { downstream: downstream.checked }),
          ),
          h('label', { class: 'inline', for: 'clear-downstream' }, downstream, ' with downstream'),
        ),
        h(
          'div',
          { class: 'row-actions' },
          actionButton('✓ Mark success', 'mark-success', () => act((r) => `${taskId} marked success (run ${r.runState})`, 'PATCH', base, { state: 'success' }), ti.state === 'success'),
          actionButton('✕ Mark failed', 'mark-failed', () => act((r) => `${taskId} marked failed (run ${r.runState})`, 'PATCH', base, { state: 'failed' }), ti.state === 'failed'),
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
                      state.followLatestTry = t.tryNumber === tries.at(-1).tryNumber;
                      void renderTaskPanel(run, taskId);
                    },
                    onkeydown: (event) => {
                      if (event.key === 'Enter') event.currentTarget.click();
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

  async function renderPanel() {
    const grid = state.grid;
    const run = grid.runs.find((r) => r.runId === state.selectedRun);
    if (!run) {
      put(panel, h('p', { class: 'muted' }, 'Select a run (top bars) or a task instance (a square) to see its details.'));
      return;
    }
    if (state.selectedTask) await renderTaskPanel(run, state.selectedTask);
    else await renderRunPanel(run);
  }

  function renderAll() {
    renderGrid(state.grid);
    void renderPanel().catch((e) => put(panel, errorBox(e)));
  }

  async function refresh() {
    state.grid = await api('GET', `/dags/${enc(dagId)}/grid?limit=${state.limit}`);
    renderHead(state.grid.dag);
    renderGrid(state.grid);
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
  return stop;
}

// ---------------------------------------------------------------- audit log

async function viewAudit(params) {
  const filters = { actor: params.get('actor') ?? '', dagId: params.get('dagId') ?? '', action: params.get('action') ?? '' };
  const tbody = h('tbody', {});
  const more = h('button', { type: 'button', class: 'link', hidden: true }, 'Load older entries');
  let cursor = null;

  const inputs = Object.fromEntries(
    Object.keys(filters).map((key) => [key, h('input', { id: `f-${key}`, value: filters[key], placeholder: key === 'dagId' ? 'any DAG' : `any ${key}` })]),
  );

  function row(e) {
    const details = Object.entries(e.details ?? {})
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join('  ');
    return h(
      'tr',
      { 'data-action': e.action },
      h('td', { class: 'nowrap' }, fmtDate(e.at)),
      h('td', {}, e.actor, h('span', { class: 'muted small' }, ` (${e.auth})`)),
      h('td', {}, h('code', {}, e.action)),
      h('td', { class: 'break' }, e.dagId ? h('a', { href: `#/dags/${enc(e.dagId)}${e.runId ? `?run=${enc(e.runId)}${e.taskId ? `&task=${enc(e.taskId)}` : ''}` : ''}` }, e.target ?? e.dagId) : (e.target ?? '')),
      h('td', { class: 'small mono break' }, details),
    );
  }

  async function load(reset) {
    const q = new URLSearchParams({ limit: '50' });
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    if (!reset && cursor) q.set('cursor', cursor);
    const data = await api('GET', `/auditLog?${q}`);
    if (reset) put(tbody);
    tbody.append(...data.entries.map(row));
    if (reset && data.entries.length === 0) tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No entries.')));
    cursor = data.nextCursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => load(false).catch((e) => toast(e.message, 'error')));

  put(app, 
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', {}, 'Audit log'), h('p', { class: 'muted' }, 'Every write: who, what, when, on what.')),
      h(
        'form',
        {
          class: 'filters',
          onsubmit: async (event) => {
            event.preventDefault();
            for (const key of Object.keys(filters)) filters[key] = inputs[key].value.trim();
            await load(true).catch((e) => toast(e.message, 'error'));
          },
        },
        Object.keys(filters).map((key) => h('label', { for: `f-${key}` }, key === 'dagId' ? 'DAG' : key[0].toUpperCase() + key.slice(1), inputs[key])),
        h('button', { type: 'submit' }, 'Filter'),
      ),
      h('table', { class: 'table audit', 'data-testid': 'audit' }, h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Who'), h('th', {}, 'Action'), h('th', {}, 'Target'), h('th', {}, 'Details'))), tbody),
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

// ---------------------------------------------------------------- picks browser

async function viewPicks(params) {
  const input = h('input', { id: 'member-id', name: 'member', value: params.get('member') ?? '', placeholder: 'e.g. m_000123', required: true, autocomplete: 'off' });
  const out = h('div', { class: 'picks-out', 'data-testid': 'picks' });

  async function show(memberId) {
    put(out, h('p', { class: 'muted' }, 'Loading…'));
    let data;
    try {
      const res = await fetch(`/api/v1/members/${enc(memberId)}/picks`, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
      const body = await res.json().catch(() => null);
      if (!res.ok) throw new ApiError(res.status, body?.error ?? `${res.status} ${res.statusText}`);
      data = body;
    } catch (e) {
      put(out, errorBox(e.status === 404 ? `No picks for member "${memberId}": ${e.message}` : e));
      return;
    }
    put(out, 
      h(
        'dl',
        { class: 'facts inline-facts' },
        h('dt', {}, 'Member'),
        h('dd', { class: 'mono' }, data.memberId),
        h('dt', {}, 'Source'),
        h('dd', {}, data.source),
        h('dt', {}, 'Model'),
        h('dd', { class: 'mono' }, data.modelVersion),
        h('dt', {}, 'Generated'),
        h('dd', {}, fmtDate(data.generatedAt)),
      ),
      (data.rows ?? []).map((row) =>
        h(
          'section',
          { class: 'picks-row card', 'data-row': row.row },
          h('h2', {}, rowTitle(row.row), h('span', { class: 'muted small' }, ` ${row.picks.length} classes`)),
          h(
            'table',
            { class: 'table' },
            h('thead', {}, h('tr', {}, h('th', { class: 'narrow' }, '#'), h('th', {}, 'Class'), h('th', {}, 'Discipline'), h('th', {}, 'Duration'), h('th', {}, 'Instructor'), h('th', {}, 'Score'), h('th', {}, 'Why'))),
            h(
              'tbody',
              {},
              row.picks.map((p, i) =>
                h(
                  'tr',
                  {},
                  h('td', {}, i + 1),
                  h('td', {}, p.title, h('div', { class: 'muted small mono' }, p.classId)),
                  h('td', {}, p.discipline),
                  h('td', { class: 'nowrap' }, `${p.durationMin} min`),
                  h('td', {}, p.instructor),
                  h('td', { class: 'score' }, scoreBar(p.score)),
                  h('td', {}, p.reason),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  put(app, 
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', {}, 'Picks browser'), h('p', { class: 'muted' }, 'The published Daily Picks of one member, as product services get them.')),
      h(
        'form',
        {
          class: 'filters',
          onsubmit: (event) => {
            event.preventDefault();
            const memberId = input.value.trim();
            if (!memberId) return;
            history.replaceState(null, '', `#/picks?member=${enc(memberId)}`);
            void show(memberId);
          },
        },
        h('label', { for: 'member-id' }, 'Member id', input),
        h('button', { type: 'submit', class: 'primary' }, 'Show picks'),
      ),
      out,
    ),
  );
  if (input.value) await show(input.value);
  return () => {};
}

const ROW_TITLES = { for_your_usual: 'For Your Usual', quick_workout: 'For a Quick Workout', something_new: 'For Something New', ranked: 'Ranked' };

function rowTitle(name) {
  return ROW_TITLES[name] ?? name;
}

function scoreBar(score) {
  const value = typeof score === 'number' && Number.isFinite(score) ? score : 0;
  const pct = Math.max(0, Math.min(1, value)) * 100;
  return h(
    'span',
    { class: 'scorebar', title: String(score) },
    h('span', { class: 'scorebar-fill', style: { width: `${pct}%` } }),
    h('span', { class: 'scorebar-text' }, value.toFixed(value < 0.01 && value > 0 ? 4 : 3)),
  );
}

// ---------------------------------------------------------------- model registry

const MODEL_STAGES = {
  production: { color: '#009E73', fg: '#ffffff', glyph: '★', label: 'production' },
  candidate: { color: '#56B4E9', fg: '#00263d', glyph: '◆', label: 'candidate' },
  archived: { color: '#E4E7EB', fg: '#3a434d', glyph: '▪', label: 'archived' },
  failed: { color: '#D55E00', fg: '#ffffff', glyph: '✕', label: 'failed' },
};
const MODEL_STATUS_STATE = { running: 'running', succeeded: 'success', failed: 'failed' };
const METRIC_CANDIDATES = ['ranker', 'heuristics', 'popularity', 'baseline'];
const HEADLINE_METRICS = ['ndcg@10', 'recall@10'];

function stageBadge(stage) {
  const info = MODEL_STAGES[stage] ?? { color: '#eeeeee', fg: '#000000', glyph: '?', label: String(stage) };
  return h(
    'span',
    { class: `badge stage-${stage}`, style: { background: info.color, color: info.fg }, 'data-testid': 'model-stage' },
    h('span', { class: 'glyph', 'aria-hidden': 'true' }, info.glyph),
    ` ${info.label}`,
  );
}

function modelStatus(status) {
  const info = stateInfo(MODEL_STATUS_STATE[status] ?? status);
  return h('span', { class: 'model-status', title: status }, h('span', { class: 'sq', style: { background: info.color, color: info.fg }, 'aria-hidden': 'true' }, info.glyph), ` ${status}`);
}

/** Candidates in display order: the known four first, then any others. */
function candidatesOf(metrics) {
  const names = Object.keys(metrics ?? {});
  return [...METRIC_CANDIDATES.filter((c) => names.includes(c)), ...names.filter((c) => !METRIC_CANDIDATES.includes(c)).sort()];
}

function fmtMetric(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(4) : '—';
}

/** A table of metrics per candidate; the best value of each metric is marked (bold, ▲, and said in its title). */
function metricsTable(metrics, names, compact) {
  const candidates = candidatesOf(metrics);
  if (candidates.length === 0) return h('span', { class: 'muted', 'data-testid': 'model-metrics' }, 'no metrics');
  const best = Object.fromEntries(
    names.map((n) => {
      const values = candidates.map((c) => metrics[c]?.[n]).filter((v) => typeof v === 'number' && Number.isFinite(v));
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

function confirmDialog({ title, body, confirm, onConfirm }) {
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': 'confirm-title', 'data-testid': 'confirm-dialog' },
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (event) => {
          event.preventDefault();
          error.hidden = true;
          try {
            await onConfirm();
            dialog.close();
            dialog.remove();
          } catch (e) {
            error.textContent = e.message;
            error.hidden = false;
          }
        },
      },
      h('h2', { id: 'confirm-title' }, title),
      body.map((line) => h('p', {}, line)),
      error,
      h(
        'div',
        { class: 'row-actions' },
        h('button', { type: 'button', onclick: () => (dialog.close(), dialog.remove()) }, 'Cancel'),
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'confirm-submit' }, confirm),
      ),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
}

function promoteButton(model, production, onDone) {
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
            const result = await api('POST', `/models/${enc(model.version)}/promote`);
            toast(`${result.version} is in production${result.previous ? ` (${result.previous} archived)` : ''}`);
            await onDone();
          },
        }),
    },
    'Promote',
  );
}

async function viewModels(version, params) {
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
  let cursor = null;
  let production = null;

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

  async function load(reset) {
    const q = new URLSearchParams({ limit: '25' });
    if (stage.value) q.set('stage', stage.value);
    if (!reset && cursor) q.set('cursor', cursor);
    const [data, prod] = await Promise.all([api('GET', `/models?${q}`), reset ? api('GET', '/models?stage=production&limit=1') : null]);
    if (reset) {
      production = prod.models[0] ?? null;
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
  more.addEventListener('click', () => load(false).catch((e) => toast(e.message, 'error')));
  stage.addEventListener('change', () => {
    history.replaceState(null, '', `#/models${stage.value ? `?stage=${enc(stage.value)}` : ''}`);
    load(true).catch((e) => toast(e.message, 'error'));
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
        h('div', { class: 'head-meta' }, h('label', { for: 'f-stage', class: 'inline' }, 'Stage ', stage), h('button', { type: 'button', onclick: () => load(true).catch((e) => toast(e.message, 'error')) }, 'Refresh')),
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

function kvTable(entries, render, testid) {
  if (entries.length === 0) return h('p', { class: 'muted' }, 'none recorded');
  return h('table', { class: 'table kv', 'data-testid': testid }, h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', { class: 'mono break' }, render(v))))));
}

async function viewModel(version) {
  async function render() {
    let model;
    let production;
    try {
      [model, production] = await Promise.all([api('GET', `/models/${enc(version)}`), api('GET', '/models?stage=production&limit=1')]);
    } catch (e) {
      put(app, h('section', { class: 'page' }, h('p', {}, h('a', { href: '#/models' }, '← Models')), errorBox(e)));
      return;
    }
    production = production.models.find((m) => m.modelName === model.modelName) ?? null;
    const metricNames = [...new Set(Object.values(model.metrics ?? {}).flatMap((m) => Object.keys(m)))].sort((a, b) => {
      const rank = (n) => (HEADLINE_METRICS.includes(n) ? HEADLINE_METRICS.indexOf(n) : 99);
      return rank(a) - rank(b) || a.localeCompare(b);
    });
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

// ---------------------------------------------------------------- router

async function route() {
  stopView();
  stopView = () => {};
  const raw = location.hash.replace(/^#/, '') || '/dags';
  const [path, query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);

  if (session.user === null && parts[0] !== 'login') {
    try {
      await loadSession();
    } catch {
      // treated as logged out
    }
    if (!session.user) {
      location.hash = `#/login?next=${encodeURIComponent(`#${raw}`)}`;
      return;
    }
  }
  renderWho();
  for (const link of nav.querySelectorAll('a')) link.classList.toggle('active', link.dataset.nav === parts[0]);
  document.title = `Flywheel · ${parts[0] === 'dags' && parts[1] ? parts[1] : (parts[0] ?? 'DAGs')}`;

  let stop = () => {};
  if (parts[0] === 'login') viewLogin(params);
  else if (parts[0] === 'dags' && parts[1]) stop = await viewGrid(parts[1], params);
  else if (parts[0] === 'audit') stop = await viewAudit(params);
  else if (parts[0] === 'picks') stop = await viewPicks(params);
  else if (parts[0] === 'models') stop = await viewModels(parts[1], params);
  else stop = await viewDags();
  stopView = stop ?? (() => {});
}

window.addEventListener('hashchange', () => void route());
void route();
