// @ts-check
// The login page (#/login?next=…): signs in, then goes back to where the reader was sent from.
import { api, messageOf, session } from '../lib/api.js';
import { app, h, put } from '../lib/dom.js';

/** @param {URLSearchParams} params */
export function viewLogin(params) {
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
          /** @type {import('../lib/types.js').LoginResult} */
          const data = await api('POST', '/session', { username: username.value, password: password.value });
          session.user = data.user;
          session.csrfToken = data.csrfToken;
          const next = params.get('next');
          // `next` comes from the URL: follow only a route of this UI, and never back to the login page.
          location.hash = next && next.startsWith('#/') && !next.startsWith('#/login') ? next : '#/dags';
        } catch (e) {
          error.textContent = messageOf(e);
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
