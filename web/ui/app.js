// @ts-check
// Flywheel operator UI: plain ES modules, no build step; this module boots it and routes
// #/… to the views (views/*.js). Every value from the API reaches the page through textContent or
// attributes (never innerHTML), so data cannot inject markup.
import { api, loadSession, session } from './lib/api.js';
import { byId, h, put } from './lib/dom.js';
import { viewAudit } from './views/audit.js';
import { viewDags } from './views/dags.js';
import { viewExperiments } from './views/experiments.js';
import { viewGrid } from './views/grid.js';
import { viewLogin } from './views/login.js';
import { viewModels } from './views/models.js';
import { viewPicks } from './views/picks.js';

const nav = byId('nav');
const who = byId('who');

/** Stops the current view's refreshes before the next one renders. */
let stopView = () => {};

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

async function route() {
  stopView();
  stopView = () => {};
  const raw = location.hash.replace(/^#/, '') || '/dags';
  const [path = '', query = ''] = raw.split('?');
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

  /** @type {(() => void) | undefined} */
  let stop = () => {};
  if (parts[0] === 'login') viewLogin(params);
  else if (parts[0] === 'dags' && parts[1]) stop = await viewGrid(parts[1], params);
  else if (parts[0] === 'audit') stop = await viewAudit(params);
  else if (parts[0] === 'picks') stop = await viewPicks(params);
  else if (parts[0] === 'models') stop = await viewModels(parts[1], params);
  else if (parts[0] === 'experiments') stop = await viewExperiments(parts[1], params);
  else stop = await viewDags();
  stopView = stop ?? (() => {});
}

window.addEventListener('hashchange', () => void route());
void route();
