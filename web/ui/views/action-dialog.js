// @ts-check
// The confirm dialog of clear and mark (task or run): it asks the API for a dry run and lists
// exactly the task instances the action would change, re-asks when a scope box is toggled, and
// on Confirm sends the action with that list as `expected`, so the API changes exactly what was
// shown or answers 409. Everything it acts on was fixed when it opened, never read from the page
// at confirm time.
import { api, ApiError, messageOf } from '../lib/api.js';
import { h, put } from '../lib/dom.js';
import { badge, toast } from '../lib/widgets.js';

/** @typedef {import('../lib/types.js').ActionResult} ActionResult */
/** @typedef {import('../lib/types.js').TaskInstanceChange} TaskInstanceChange */

/**
 * A scope checkbox: `key` is the body field it sets (`downstream`, `upstream`, `onlyFailed`).
 * @typedef {object} ScopeOption
 * @property {string} key
 * @property {string} label
 * @property {boolean} checked
 */

/**
 * @typedef {object} ActionDialogOptions
 * @property {string} kind short name for test ids and the class (`clear`, `mark-success`, …)
 * @property {string} title
 * @property {string} subject what it acts on, as shown (task, run, try)
 * @property {string} confirm the Confirm button's label
 * @property {'POST' | 'PATCH'} method
 * @property {string} path
 * @property {Record<string, unknown>} body the fixed part of the body (state, expectedTryNumber, expectedState)
 * @property {ScopeOption[]} scopes
 * @property {(result: ActionResult) => string} done the toast after the action
 * @property {() => void} onDone called after the action (refresh)
 */

/** Elements the Tab key may reach inside the dialog. */
const FOCUSABLE = 'button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [href], [tabindex]:not([tabindex="-1"])';

/** Closes and removes every open action dialog (there is never more than one). */
export function closeActionDialogs() {
  for (const old of document.querySelectorAll('dialog.action-dialog')) {
    if (old instanceof HTMLDialogElement && old.open) old.close();
    old.remove();
  }
}

/** @param {ActionDialogOptions} options */
export function actionDialog(options) {
  closeActionDialogs();
  /** @type {Record<string, HTMLInputElement>} */
  const boxes = {};
  const scopeBox = options.scopes.length
    ? h(
        'fieldset',
        { class: 'scopes' },
        h('legend', {}, 'Also'),
        options.scopes.map((scope) => {
          const box = h('input', { type: 'checkbox', id: `action-scope-${scope.key}`, checked: scope.checked, 'data-scope': scope.key, onchange: () => void preview() });
          boxes[scope.key] = box;
          return h('label', { class: 'inline', for: `action-scope-${scope.key}` }, box, ` ${scope.label}`);
        }),
      )
    : null;
  const status = h('p', { class: 'muted small', 'data-testid': 'action-status', role: 'status' }, 'Asking what would change…');
  const list = h('div', { class: 'action-list', 'data-testid': 'action-list' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true, 'data-testid': 'action-error' });
  const cancel = h('button', { type: 'button', autofocus: true, onclick: () => dialog.close() }, 'Cancel');
  const confirm = h('button', { type: 'submit', class: 'primary', disabled: true, 'data-testid': 'action-confirm' }, options.confirm);

  /** The dry run on screen, with the scope it was asked for: what Confirm sends. @type {{ scope: Record<string, boolean>, changes: TaskInstanceChange[] } | null} */
  let shown = null;
  /** Numbers the dry runs: an answer to an older one is dropped. */
  let asked = 0;
  let busy = false;

  const scopeNow = () => Object.fromEntries(options.scopes.map((s) => [s.key, boxes[s.key]?.checked ?? false]));

  /** @param {TaskInstanceChange[]} changes */
  function renderList(changes) {
    put(
      list,
      changes.length === 0
        ? null
        : h(
            'table',
            { class: 'table action-table' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Task'), h('th', {}, 'Now'), h('th', {}, 'Try'), h('th', {}, 'Becomes'))),
            h(
              'tbody',
              {},
              changes.map((c) =>
                h(
                  'tr',
                  { 'data-task': c.taskId, 'data-state': c.state, 'data-try': c.tryNumber },
                  h('td', { class: 'mono' }, c.taskId),
                  h('td', {}, badge(c.state)),
                  h('td', {}, c.tryNumber),
                  h('td', {}, badge(c.newState)),
                ),
              ),
            ),
          ),
    );
  }

  /** @param {boolean} [keepError] keep the message on screen (the 409 that asked again) */
  async function preview(keepError = false) {
    const n = (asked += 1);
    if (!keepError) error.hidden = true;
    const scope = scopeNow();
    shown = null;
    confirm.disabled = true;
    dialog.setAttribute('aria-busy', 'true');
    status.textContent = 'Asking what would change…';
    try {
      /** @type {ActionResult} */
      const result = await api(options.method, options.path, { ...options.body, ...scope, dryRun: true });
      if (n !== asked || !dialog.isConnected) return;
      shown = { scope, changes: result.taskInstances };
      renderList(result.taskInstances);
      const count = result.taskInstances.length;
      status.textContent = count === 0 ? 'Nothing would change.' : `${count} task instance${count === 1 ? '' : 's'} will change:`;
      confirm.disabled = busy || count === 0;
    } catch (e) {
      if (n !== asked || !dialog.isConnected) return;
      renderList([]);
      status.textContent = 'Could not ask what would change.';
      error.textContent = messageOf(e);
      error.hidden = false;
    } finally {
      if (n === asked) dialog.removeAttribute('aria-busy');
    }
  }

  /** @type {HTMLDialogElement} */
  const dialog = h(
    'dialog',
    { class: `dialog action-dialog action-${options.kind}`, 'aria-labelledby': 'action-title', 'data-testid': 'action-dialog', 'data-kind': options.kind },
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (event) => {
          event.preventDefault();
          const confirmed = shown;
          if (!confirmed || confirmed.changes.length === 0 || busy) return;
          busy = true;
          confirm.disabled = true;
          error.hidden = true;
          try {
            /** @type {ActionResult} */
            const result = await api(options.method, options.path, {
              ...options.body,
              ...confirmed.scope,
              expected: confirmed.changes.map((c) => ({ taskId: c.taskId, state: c.state, tryNumber: c.tryNumber })),
            });
            dialog.close();
            toast(options.done(result));
            options.onDone();
          } catch (e) {
            error.textContent = messageOf(e);
            error.hidden = false;
            busy = false;
            // Changed meanwhile: ask again what the action would change now, and reload the
            // page behind (its panel then offers the task instance as it is now).
            if (e instanceof ApiError && e.status === 409) {
              void preview(true);
              options.onDone();
            } else confirm.disabled = false;
          }
        },
      },
      h('h2', { id: 'action-title' }, options.title),
      h('p', { class: 'mono small break', 'data-testid': 'action-subject' }, options.subject),
      scopeBox,
      status,
      list,
      error,
      h('div', { class: 'row-actions' }, cancel, confirm),
    ),
  );
  // Escape (the dialog's cancel), Cancel and Confirm all close it; closed, it leaves the page.
  dialog.addEventListener('close', () => dialog.remove());
  // Tab and Shift+Tab stay inside the dialog.
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab') return;
    const items = [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el instanceof HTMLElement && el.offsetParent !== null);
    const first = /** @type {HTMLElement | undefined} */ (items[0]);
    const last = /** @type {HTMLElement | undefined} */ (items.at(-1));
    if (!first || !last) return;
    const active = document.activeElement;
    if (event.shiftKey && (active === first || !dialog.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !dialog.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  cancel.focus();
  void preview();
  return dialog;
}
