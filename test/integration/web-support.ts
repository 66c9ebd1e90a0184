import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Role } from '../../core/db/schema/user.ts';
import type { Logger } from '../../core/logger.ts';
import { createToken, createUser } from '../../web/auth/accounts.ts';
import { createWebApp, listen } from '../../web/server.ts';
import { Harness, type HarnessOptions } from '../support/harness.ts';

export const WEB_DAGS = fileURLToPath(new URL('../fixtures/dags-web', import.meta.url));
export const PASSWORD = 'pass-word-123';

export interface WebUser {
  username: string;
  role: Role;
  token: string;
}

/** A harness (own database, queues, scheduler, workers) plus the web app on a free port, and one user per role. */
export class WebFixture {
  private constructor(
    readonly harness: Harness,
    readonly server: Server,
    readonly origin: string,
    readonly users: Record<Role, WebUser>,
  ) {}

  static async start(options: HarnessOptions & { logger?: Logger } = {}): Promise<WebFixture> {
    const { logger, ...harnessOptions } = options;
    const harness = await Harness.start({ dagsFolder: WEB_DAGS, ...harnessOptions });
    const app = createWebApp({
      db: harness.db,
      logger: logger ?? harness.runtime.logger,
      redis: harness.runtime.redis,
      // The picks serving cache lives under the harness's own prefix, not the default `flywheel`
      // (which a real installation or the demo may be using on the same Redis).
      cachePrefix: harness.config.queuePrefix,
      dags: harness.runtime.dags,
      executor: harness.runtime.executor,
      secretKey: 'test-secret-key-that-is-long-enough-0123456789',
      pool: harness.runtime.database.pool,
    });
    const server = await listen(app, 0, '127.0.0.1');
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const users = {} as Record<Role, WebUser>;
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      const username = `${role}1`;
      await createUser(harness.db, { username, role, password: PASSWORD });
      users[role] = { username, role, token: (await createToken(harness.db, username)).token };
    }
    return new WebFixture(harness, server, origin, users);
  }

  get api(): string {
    return `${this.origin}/api/v1`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    await this.harness.close();
  }
}

/** A browser-like client: keeps the session cookie and the CSRF token. */
export class SessionClient {
  cookie = '';
  csrfToken = '';
  constructor(private readonly api: string) {}

  static async login(api: string, username: string, password = PASSWORD): Promise<SessionClient> {
    const client = new SessionClient(api);
    const res = await client.request('POST', '/session', { username, password });
    if (res.status !== 200) throw new Error(`login as ${username}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { csrfToken: string };
    client.csrfToken = body.csrfToken;
    return client;
  }

  async request(method: string, path: string, body?: unknown, options: { csrf?: boolean } = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.cookie) headers.cookie = this.cookie;
    if (options.csrf !== false && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
    const res = await fetch(`${this.api}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('flywheel.sid='));
    if (setCookie) this.cookie = setCookie.split(';')[0]!;
    return res;
  }
}

/** A request with an API token (or none). */
export function tokenRequest(api: string, method: string, path: string, token: string | null, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${api}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

export async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}
