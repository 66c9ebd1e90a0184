import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../core/db/queries/audit-log.ts';
import { findUserByUsername, updateUser } from '../../core/db/queries/users.ts';
import { createToken } from '../../web/auth/accounts.ts';
import { json, PASSWORD, SessionClient, tokenRequest, WebFixture } from './web-support.ts';

type Who = 'anonymous' | 'viewer' | 'operator' | 'admin';

describe('auth: roles, sessions with CSRF, API tokens, audit', () => {
  let web: WebFixture;
  let failedRunId: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    web = await WebFixture.start({
      logger: pino(
        { level: 'debug' },
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            logLines.push(chunk.toString());
            callback();
          },
        }),
      ),
    });
    const run = await web.harness.trigger('web_flaky');
    await web.harness.waitForRun(run.dagRunId);
    failedRunId = run.runId;
  });
  afterAll(async () => {
    await web?.close();
  });

  const runPath = () => `/dags/web_flaky/runs/${encodeURIComponent(failedRunId)}`;

  /** Every write endpoint, the role it needs, and a body that is valid for it. */
  const writes = (): { name: string; method: string; path: string; body: unknown; needs: 'operator' | 'admin' }[] => [
    { name: 'trigger', method: 'POST', path: '/dags/web_flaky/runs', body: { conf: { from: 'matrix' } }, needs: 'operator' },
    { name: 'pause', method: 'PATCH', path: '/dags/web_daily', body: { isPaused: true }, needs: 'operator' },
    { name: 'clear task', method: 'POST', path: `${runPath()}/taskInstances/transform/clear`, body: { downstream: true }, needs: 'operator' },
    { name: 'clear failed', method: 'POST', path: `${runPath()}/clear`, body: {}, needs: 'operator' },
    { name: 'mark', method: 'PATCH', path: `${runPath()}/taskInstances/extract`, body: { state: 'failed' }, needs: 'operator' },
    { name: 'set pool', method: 'PUT', path: '/pools/matrix', body: { slots: 3 }, needs: 'admin' },
  ];

  const allowed = (who: Who, needs: 'operator' | 'admin') => (who === 'admin' ? true : who === 'operator' ? needs === 'operator' : false);

  it('anonymous writes get 401 and viewer writes 403, by token and by session; nothing changes and nothing is audited', async () => {
    const before = await web.harness.db.execute(sql`select count(*)::int as n from dag_run`);
    for (const write of writes()) {
      const anonymous = await tokenRequest(web.api, write.method, write.path, null, write.body);
      expect(anonymous.status, `anonymous ${write.name}`).toBe(401);
      expect((await json<{ error: string }>(anonymous)).error).toMatch(/authentication required/);

      const viewerToken = await tokenRequest(web.api, write.method, write.path, web.users.viewer.token, write.body);
      expect(viewerToken.status, `viewer token ${write.name}`).toBe(403);
      expect((await json<{ error: string }>(viewerToken)).error).toMatch(new RegExp(`needs the ${write.needs} role`));

      const viewer = await SessionClient.login(web.api, web.users.viewer.username);
      const viewerSession = await viewer.request(write.method, write.path, write.body);
      expect(viewerSession.status, `viewer session ${write.name}`).toBe(403);

      if (write.needs === 'admin') {
        const operator = await tokenRequest(web.api, write.method, write.path, web.users.operator.token, write.body);
        expect(operator.status, `operator ${write.name}`).toBe(403);
      }
    }
    const after = await web.harness.db.execute(sql`select count(*)::int as n from dag_run`);
    expect(after.rows[0]).toEqual(before.rows[0]);
    expect((await web.harness.taskStates((await web.harness.run('web_flaky', failedRunId))!.id)).transform).toBe('failed');
    const audited = await listAuditEntries(web.harness.db, { limit: 100 });
    expect(audited.filter((e) => e.action !== 'auth.login')).toEqual([]);
  });

  it('reads need at least a viewer; health needs nothing', async () => {
    expect((await tokenRequest(web.api, 'GET', '/dags', null)).status).toBe(401);
    expect((await tokenRequest(web.api, 'GET', '/auditLog', null)).status).toBe(401);
    expect((await tokenRequest(web.api, 'GET', `${runPath()}/taskInstances/transform/tries/1/logs`, null)).status).toBe(401);
    expect((await tokenRequest(web.api, 'GET', '/health', null)).status).toBe(200);
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      expect((await tokenRequest(web.api, 'GET', '/dags', web.users[role].token)).status, role).toBe(200);
    }
  });

  it('operators and admins may write (as the matrix says), and each write is audited with who, what and the target', async () => {
    for (const who of ['operator', 'admin'] as const) {
      for (const write of writes()) {
        const res = await tokenRequest(web.api, write.method, write.path, web.users[who].token, write.body);
        if (allowed(who, write.needs)) expect([200, 201, 409], `${who} ${write.name}: ${res.status}`).toContain(res.status);
        else expect(res.status, `${who} ${write.name}`).toBe(403);
      }
    }
    const entries = await listAuditEntries(web.harness.db, { limit: 100 });
    const byOperator = entries.filter((e) => e.actor === web.users.operator.username).map((e) => e.action);
    expect(byOperator).toEqual(expect.arrayContaining(['dag.trigger', 'dag.pause', 'task.clear', 'task.mark_failed']));
    expect(byOperator).not.toContain('pool.set');
    expect(entries.filter((e) => e.actor === web.users.admin.username).map((e) => e.action)).toContain('pool.set');
    const trigger = entries.find((e) => e.action === 'dag.trigger' && e.actor === web.users.operator.username)!;
    expect(trigger).toMatchObject({ auth: 'token', dagId: 'web_flaky', details: { conf: { from: 'matrix' } } });
    expect(trigger.runId).toMatch(/^manual__/);
    const clear = entries.find((e) => e.action === 'task.clear' && e.actor === web.users.operator.username)!;
    expect(clear).toMatchObject({ dagId: 'web_flaky', runId: failedRunId, taskId: 'transform', details: { downstream: true } });
    expect([...(clear.details.cleared as string[])].sort()).toEqual(['load', 'transform']);
    expect(clear.at.getTime()).toBeLessThanOrEqual(Date.now());

    // The audit log over the API, newest first, for any viewer, with a working cursor.
    const page1 = await json<{ entries: { id: number; action: string }[]; nextCursor: string }>(await tokenRequest(web.api, 'GET', '/auditLog?limit=2', web.users.viewer.token));
    expect(page1.entries).toHaveLength(2);
    const page2 = await json<{ entries: { id: number }[] }>(await tokenRequest(web.api, 'GET', `/auditLog?limit=2&cursor=${page1.nextCursor}`, web.users.viewer.token));
    expect(page2.entries[0]!.id).toBeLessThan(page1.entries[1]!.id);
    const filtered = await json<{ entries: { actor: string }[] }>(await tokenRequest(web.api, 'GET', `/auditLog?actor=${web.users.admin.username}`, web.users.viewer.token));
    expect(filtered.entries.length).toBeGreaterThan(0);
    expect(new Set(filtered.entries.map((e) => e.actor))).toEqual(new Set([web.users.admin.username]));
  });

  it('a session write needs the CSRF token of that session', async () => {
    const operator = await SessionClient.login(web.api, web.users.operator.username);
    const missing = await operator.request('PATCH', '/dags/web_daily', { isPaused: false }, { csrf: false });
    expect(missing.status).toBe(403);
    expect((await json<{ error: string }>(missing)).error).toMatch(/CSRF/);

    const other = await SessionClient.login(web.api, web.users.admin.username);
    operator.csrfToken = other.csrfToken; // a valid token, but of another session
    expect((await operator.request('PATCH', '/dags/web_daily', { isPaused: false })).status).toBe(403);
    operator.csrfToken = 'f'.repeat(64);
    expect((await operator.request('PATCH', '/dags/web_daily', { isPaused: false })).status).toBe(403);

    const session = await json<{ csrfToken: string; user: { username: string } }>(await operator.request('GET', '/session'));
    expect(session.user.username).toBe(web.users.operator.username);
    operator.csrfToken = session.csrfToken;
    const ok = await operator.request('PATCH', '/dags/web_daily', { isPaused: false });
    expect(ok.status).toBe(200);
    const [entry] = await listAuditEntries(web.harness.db, { limit: 1 });
    expect(entry).toMatchObject({ actor: web.users.operator.username, auth: 'session', action: 'dag.unpause' });

    // Reads need no CSRF token; the login itself must be JSON (a cross-site form cannot post it).
    expect((await operator.request('GET', '/dags', undefined, { csrf: false })).status).toBe(200);
    const form = await fetch(`${web.api}/session`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=${web.users.operator.username}&password=${PASSWORD}` });
    expect(form.status).toBe(415);
  });

  it('logging out ends the session; a new login gets a new session id', async () => {
    const client = await SessionClient.login(web.api, web.users.viewer.username);
    const firstCookie = client.cookie;
    const again = await SessionClient.login(web.api, web.users.viewer.username);
    expect(again.cookie).not.toBe(firstCookie);
    expect((await client.request('DELETE', '/session')).status).toBe(204);
    const after = await json<{ user: unknown }>(await client.request('GET', '/session'));
    expect(after.user).toBeNull();
    expect((await client.request('GET', '/dags')).status).toBe(401);
  });

  it('API tokens: only a hash is stored; bad, revoked and disabled users\' tokens get 401', async () => {
    const { token, id } = await createToken(web.harness.db, web.users.operator.username, { name: 'ci' });
    const stored = await web.harness.db.execute<{ token_hash: string; prefix: string }>(sql`select token_hash, prefix from api_token where id = ${id}`);
    expect(stored.rows[0]!.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(token.startsWith(stored.rows[0]!.prefix)).toBe(true);
    expect(JSON.stringify(stored.rows)).not.toContain(token);

    expect((await tokenRequest(web.api, 'GET', '/dags', token)).status).toBe(200);
    expect((await tokenRequest(web.api, 'GET', '/dags', `${token}x`)).status).toBe(401);
    expect((await fetch(`${web.api}/dags`, { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })).status).toBe(401);

    await web.harness.db.execute(sql`update api_token set revoked_at = now() where id = ${id}`);
    expect((await tokenRequest(web.api, 'GET', '/dags', token)).status).toBe(401);

    const expired = await createToken(web.harness.db, web.users.viewer.username, { expiresAt: new Date(Date.now() - 1000) });
    expect((await tokenRequest(web.api, 'GET', '/dags', expired.token)).status).toBe(401);
  });

  it('a disabled user can neither log in nor keep using a session or token', async () => {
    const { createUser } = await import('../../web/auth/accounts.ts');
    await createUser(web.harness.db, { username: 'leaver', role: 'operator', password: PASSWORD });
    const { token } = await createToken(web.harness.db, 'leaver');
    const client = await SessionClient.login(web.api, 'leaver');
    expect((await client.request('GET', '/dags')).status).toBe(200);
    const user = await findUserByUsername(web.harness.db, 'leaver');
    await updateUser(web.harness.db, user!.id, { isActive: false });
    expect((await client.request('GET', '/dags')).status).toBe(401);
    expect((await tokenRequest(web.api, 'GET', '/dags', token)).status).toBe(401);
    const login = await fetch(`${web.api}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'leaver', password: PASSWORD }) });
    expect(login.status).toBe(401);
  });

  it('stores argon2id password hashes and never logs passwords or tokens', async () => {
    const rows = await web.harness.db.execute<{ password_hash: string }>(sql`select password_hash from app_user`);
    for (const row of rows.rows) {
      expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect(row.password_hash).not.toContain(PASSWORD);
    }
    const wrong = await fetch(`${web.api}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'operator1', password: 'Secret-Guess-42' }) });
    expect(wrong.status).toBe(401);
    expect((await json<{ error: string }>(wrong)).error).toBe('wrong username or password');
    await tokenRequest(web.api, 'GET', '/dags', 'fw_not-a-real-token-value');
    const logs = logLines.join('');
    expect(logs).toContain('failed login');
    expect(logs).not.toContain('Secret-Guess-42');
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toContain('fw_not-a-real-token-value');
    for (const role of ['viewer', 'operator', 'admin'] as const) expect(logs).not.toContain(web.users[role].token);
    expect(logs).not.toContain('test-secret-key');
  });

  it('throttles repeated failed logins for a username', async () => {
    const attempt = (password: string) =>
      fetch(`${web.api}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin1', password }) });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i += 1) statuses.push((await attempt(`wrong-${i}`)).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses[10]).toBe(429);
    // Even the right password waits out the window now.
    expect((await attempt(PASSWORD)).status).toBe(429);
  });
});
