// @ts-check
// The audit log (#/audit?actor=…&dagId=…&action=…): every write, newest first, filtered, paged.
import { api, enc, messageOf } from '../lib/api.js';
import { app, h, put } from '../lib/dom.js';
import { fmtDate } from '../lib/format.js';
import { errorBox, toast } from '../lib/widgets.js';

/** @typedef {import('../lib/types.js').AuditEntry} AuditEntry */
/** @typedef {'actor' | 'dagId' | 'action'} Filter */

/** @type {readonly Filter[]} */
const FILTERS = ['actor', 'dagId', 'action'];

/** @param {AuditEntry} e */
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

/** @param {Filter} key */
const filterLabel = (key) => (key === 'dagId' ? 'DAG' : key.charAt(0).toUpperCase() + key.slice(1));

/** @param {URLSearchParams} params */
export async function viewAudit(params) {
  /** @type {Record<Filter, string>} */
  const filters = { actor: params.get('actor') ?? '', dagId: params.get('dagId') ?? '', action: params.get('action') ?? '' };
  const tbody = h('tbody', {});
  const more = h('button', { type: 'button', class: 'link', hidden: true }, 'Load older entries');
  /** @type {string | null} */
  let cursor = null;

  /** @type {Record<Filter, HTMLInputElement>} */
  const inputs = {
    actor: h('input', { id: 'f-actor', value: filters.actor, placeholder: 'any actor' }),
    dagId: h('input', { id: 'f-dagId', value: filters.dagId, placeholder: 'any DAG' }),
    action: h('input', { id: 'f-action', value: filters.action, placeholder: 'any action' }),
  };

  /** @param {boolean} reset from the first page (else the next one) */
  async function load(reset) {
    const q = new URLSearchParams({ limit: '50' });
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    if (!reset && cursor) q.set('cursor', cursor);
    /** @type {import('../lib/types.js').AuditPage} */
    const data = await api('GET', `/auditLog?${q}`);
    if (reset) put(tbody);
    tbody.append(...data.entries.map(row));
    if (reset && data.entries.length === 0) tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No entries.')));
    cursor = data.nextCursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => void load(false).catch((e) => toast(messageOf(e), 'error')));

  put(
    app,
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
            for (const key of FILTERS) filters[key] = inputs[key].value.trim();
            await load(true).catch((e) => toast(messageOf(e), 'error'));
          },
        },
        FILTERS.map((key) => h('label', { for: `f-${key}` }, filterLabel(key), inputs[key])),
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
