// @ts-check
// The "Trigger" dialog (DAG list and grid): a run with an optional conf and logical date.
import { api, enc, messageOf } from '../lib/api.js';
import { h } from '../lib/dom.js';
import { toast } from '../lib/widgets.js';

/** @typedef {import('../lib/types.js').DagRun} DagRun */

/**
 * @param {{ dagId: string }} dag
 * @param {(run: DagRun) => void} onDone called with the new run once the dialog has closed
 */
export function triggerDialog(dag, onDone) {
  const conf = h('textarea', { id: 'trigger-conf', rows: 8, spellcheck: 'false', 'aria-describedby': 'trigger-help' }, '{}');
  const logicalDate = h('input', { id: 'trigger-date', type: 'datetime-local', step: 1 });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  /** @type {HTMLDialogElement} */
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
          /** @type {unknown} */
          let parsed;
          try {
            parsed = JSON.parse(conf.value || '{}');
          } catch (e) {
            error.textContent = `conf is not JSON: ${messageOf(e)}`;
            error.hidden = false;
            return;
          }
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
            error.textContent = 'conf must be a JSON object';
            error.hidden = false;
            return;
          }
          /** @type {{ conf: object, logicalDate?: string }} */
          const body = { conf: parsed };
          if (logicalDate.value) body.logicalDate = new Date(logicalDate.value).toISOString();
          try {
            /** @type {DagRun} */
            const run = await api('POST', `/dags/${enc(dag.dagId)}/runs`, body);
            dialog.close();
            dialog.remove();
            toast(`Triggered ${dag.dagId}: ${run.runId}`);
            onDone(run);
          } catch (e) {
            error.textContent = messageOf(e);
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
  // Escape closes a modal dialog without Cancel: closed, it leaves the page either way.
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
