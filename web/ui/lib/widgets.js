// @ts-check
// Small pieces every view uses: state badges and squares, the legend, error and JSON blocks, the
// toast, the confirm dialog, and the poller that keeps a view fresh.
import { ApiError, messageOf } from './api.js';
import { byId, h } from './dom.js';
import { LEGEND_ORDER, stateInfo } from '../states.js';

/** @typedef {import('./dom.js').Attrs} Attrs */

/**
 * A state's glyph and label on its colour.
 * @param {string} state
 * @param {Attrs} [extra]
 */
export function badge(state, extra = {}) {
  const info = stateInfo(state);
  return h(
    'span',
    { class: `badge state-${state}`, style: { background: info.color, color: info.fg }, ...extra },
    h('span', { class: 'glyph', 'aria-hidden': 'true' }, info.glyph || '○'),
    ` ${info.label}`,
  );
}

/**
 * A state as a small square (the grid's and the DAG list's), labelled for screen readers.
 * @param {string} state
 * @param {Attrs} [attrs]
 */
export function stateSquare(state, attrs = {}) {
  const info = stateInfo(state);
  return h(
    'span',
    { class: `sq state-${state}`, style: { background: info.color, color: info.fg }, title: info.label, 'aria-label': info.label, role: 'img', ...attrs },
    info.glyph,
  );
}

export function legend() {
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'State legend' },
    LEGEND_ORDER.map((state) => h('li', {}, stateSquare(state), ' ', stateInfo(state).label)),
  );
}

/** @param {unknown} error an Error, or a message */
export function errorBox(error) {
  return h('p', { class: 'error', role: 'alert' }, messageOf(error));
}

/** @param {unknown} value */
export function jsonBlock(value) {
  return h('pre', { class: 'json' }, value === null || value === undefined ? 'null' : JSON.stringify(value, null, 2));
}

const toastBox = byId('toast');
/** @type {ReturnType<typeof setTimeout> | undefined} */
let toastTimer;

/**
 * A message in the corner for a few seconds (errors stay longer).
 * @param {string} message
 * @param {'info' | 'error'} [kind]
 */
export function toast(message, kind = 'info') {
  toastBox.textContent = message;
  toastBox.className = `toast toast-${kind}`;
  toastBox.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (toastBox.hidden = true), kind === 'error' ? 8000 : 4000);
}

/**
 * A modal that runs `onConfirm` on submit; a failure stays in the dialog for the reader to see.
 * @param {{ title: string, body: string[], confirm: string, onConfirm: () => Promise<void> }} options
 */
export function confirmDialog({ title, body, confirm, onConfirm }) {
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  /** @type {HTMLDialogElement} */
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
            error.textContent = messageOf(e);
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
  // Escape closes a modal dialog without Cancel: closed, it leaves the page either way.
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

/** Stops a view's refreshes; `poke()` re-reads the delay now. @typedef {(() => void) & { poke: () => void }} Poller */

/**
 * Polls `fn` every `delay()` ms until stopped. `poke()` re-reads the delay now (after an action
 * starts a run, the next refresh comes in 1.5 s, not at the end of a 10 s idle wait).
 * @param {() => Promise<unknown>} fn
 * @param {() => number} delay
 * @returns {Poller}
 */
export function poller(fn, delay) {
  let stopped = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
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
