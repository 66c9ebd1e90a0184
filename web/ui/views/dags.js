// @ts-check
// The DAG list (#/dags): pause switches, schedules, recent runs, trigger buttons, import errors.
import { api, canOperate, enc, messageOf } from '../lib/api.js';
import { app, h, put } from '../lib/dom.js';
import { fmtDate } from '../lib/format.js';
import { errorBox, legend, poller, stateSquare, toast } from '../lib/widgets.js';
import { triggerDialog } from './trigger-dialog.js';

/** @typedef {import('../lib/types.js').DagList} DagList */
/** @typedef {import('../lib/types.js').DagListItem} DagListItem */

export async function viewDags() {
  const container = h('section', { class: 'page' });
  put(app, container);
  const operator = canOperate();

  /** @param {DagListItem} dag */
  function row(dag) {
    return h(
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
              const input = /** @type {HTMLInputElement} */ (event.target);
              try {
                await api('PATCH', `/dags/${enc(dag.dagId)}`, { isPaused: !input.checked });
                toast(`${dag.dagId} ${input.checked ? 'unpaused' : 'paused'}`);
              } catch (e) {
                input.checked = !input.checked;
                toast(messageOf(e), 'error');
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
    );
  }

  async function render() {
    /** @type {DagList} */
    const data = await api('GET', '/dags');
    const rows = data.dags.map(row);
    put(
      container,
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
