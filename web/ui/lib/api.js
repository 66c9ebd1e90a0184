// @ts-check
// The JSON API client and the signed-in session it carries (CSRF token on writes; a 401 sends the
// reader to the login page and back).

/** @typedef {import('./types.js').User} User */
/** @typedef {import('./types.js').SessionInfo} SessionInfo */

/** Who is signed in; null until `GET /session` says. @type {{ user: User | null, csrfToken: string | null }} */
export const session = { user: null, csrfToken: null };

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const enc = encodeURIComponent;

/**
 * The `error` of an API error body, if it has one.
 * @param {unknown} data
 * @returns {string | undefined}
 */
export function errorOf(data) {
  if (typeof data !== 'object' || data === null || !('error' in data)) return undefined;
  return typeof data.error === 'string' ? data.error : undefined;
}

/**
 * A caught value as a message: an Error's message, anything else as text.
 * @param {unknown} error
 */
export function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A call to `/api/v1`. `T` is the payload type the caller expects (a typedef from types.js): the
 * response is not checked at run time, so the types are only as right as types.js.
 * @template [T=unknown]
 * @param {'GET' | 'POST' | 'PATCH' | 'DELETE'} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<T>}
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session.csrfToken) headers['x-csrf-token'] = session.csrfToken;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return /** @type {T} */ (null);
  /** @type {unknown} */
  let data;
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
    throw new ApiError(res.status, errorOf(data) ?? `${res.status} ${res.statusText}`);
  }
  return /** @type {T} */ (data);
}

export function canOperate() {
  return session.user !== null && (session.user.role === 'operator' || session.user.role === 'admin');
}

export async function loadSession() {
  /** @type {SessionInfo} */
  const data = await api('GET', '/session');
  session.user = data.user;
  session.csrfToken = data.csrfToken ?? null;
}
