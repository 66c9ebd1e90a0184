/**
 * Input that used to be a 500, or said too much, over the REST API: a NUL character in a route
 * parameter, query parameter or body string (PostgreSQL cannot store it) and a body nested
 * thousands of levels deep (recursive validation overflowed the stack) are 400s naming the
 * parameter or the limit; a 404 for an unknown DAG does not name the server's DAGs folder; a
 * failed login's warning never holds the text typed as the username (it may be a password).
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../core/json-input.ts';
import { json, tokenRequest, WebFixture } from './web-support.ts';

const INPUT_DAGS = fileURLToPath(new URL('../fixtures/dags-input', import.meta.url));

/** `{ a: { a: … { a: 1 } } }`, `levels` objects deep. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { a: 1 };
  for (let k = 1; k < levels; k++) value = { a: value };
  return value;
}

describe('REST API input that reaches PostgreSQL or recursive code', () => {
  let web: WebFixture;
  let token: string;
  const logLines: string[] = [];
  const call = (method: string, path: string, body?: unknown) => tokenRequest(web.api, method, path, token, body);
  const errorOf = async (res: Response) => ({ status: res.status, error: (await json<{ error: string }>(res)).error });
  const runCount = async () => Number((await web.harness.db.execute<{ n: string }>(sql`select count(*) as n from dag_run`)).rows[0]!.n);

  beforeAll(async () => {
    web = await WebFixture.start({
      dagsFolder: INPUT_DAGS,
      workers: {},
      logger: pino(
        { level: 'info' },
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            logLines.push(chunk.toString());
            callback();
          },
        }),
      ),
    });
    token = web.users.operator.token;
  });
  afterAll(async () => {
    await web?.close();
  });

  it('a NUL in a route parameter is a 400 naming the parameter, on reads and writes', async () => {
    const nul = '%00';
    const cases: [string, string, string][] = [
      ['GET', `/dags/in${nul}put`, 'dagId'],
      ['GET', `/dags/in${nul}put/runs`, 'dagId'],
      ['GET', `/dags/input_checked/runs/x${nul}y`, 'runId'],
      ['GET', `/dags/input_checked/runs/x${nul}y/taskInstances/first`, 'runId'],
      ['PATCH', `/dags/in${nul}put`, 'dagId'],
      ['POST', `/dags/in${nul}put/runs`, 'dagId'],
      ['POST', `/dags/input_checked/runs/x/taskInstances/fi${nul}rst/clear`, 'taskId'],
      ['PUT', `/pools/p${nul}`, 'name'],
    ];
    const before = await runCount();
    for (const [method, path, name] of cases) {
      const body = method === 'GET' ? undefined : method === 'PATCH' ? { isPaused: true } : method === 'PUT' ? { slots: 2 } : {};
      const res = await tokenRequest(web.api, method, path, web.users.admin.token, body);
      expect({ method, path, ...(await errorOf(res)) }).toEqual({ method, path, status: 400, error: `${name}: contains a NUL character (U+0000), which cannot be stored` });
    }
    // The public picks API refuses it by its member id rule.
    expect(await errorOf(await fetch(`${web.api}/members/a${nul}b/picks`))).toEqual({ status: 400, error: 'memberId: contains a control character' });
    expect(await runCount()).toBe(before);
  });

  it('a NUL in a query parameter or anywhere in a JSON body is a 400 naming it', async () => {
    expect(await errorOf(await call('GET', '/auditLog?actor=a%00b'))).toEqual({ status: 400, error: 'query.actor: contains a NUL character (U+0000), which cannot be stored' });
    expect(await errorOf(await call('GET', '/models?modelName=%00'))).toEqual({ status: 400, error: 'query.modelName: contains a NUL character (U+0000), which cannot be stored' });
    // The same values without the NUL are fine.
    expect((await call('GET', '/auditLog?actor=ab')).status).toBe(200);

    const before = await runCount();
    expect(await errorOf(await call('POST', '/dags/input_checked/runs', { conf: { note: 'a\u0000b' } }))).toEqual({
      status: 400,
      error: 'body.conf.note: contains a NUL character (U+0000), which cannot be stored',
    });
    expect(await errorOf(await call('POST', '/dags/input_checked/runs', { conf: { list: ['ok', 'x\u0000'] } }))).toEqual({
      status: 400,
      error: 'body.conf.list[1]: contains a NUL character (U+0000), which cannot be stored',
    });
    expect(await errorOf(await call('POST', '/dags/input_checked/runs', { conf: { 'k\u0000': 1 } }))).toEqual({
      status: 400,
      error: 'body.conf: a key contains a NUL character (U+0000), which cannot be stored',
    });
    expect(await runCount()).toBe(before);

    // Public routes too: the login form and client events.
    const login = await fetch(`${web.api}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'viewer1\u0000', password: 'x' }) });
    expect(await errorOf(login)).toEqual({ status: 400, error: 'body.username: contains a NUL character (U+0000), which cannot be stored' });
    const events = await fetch(`${web.api}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ eventId: 'e\u00001', type: 'click' }] }),
    });
    expect(await errorOf(events)).toEqual({ status: 400, error: 'body.events[0].eventId: contains a NUL character (U+0000), which cannot be stored' });
  });

  it(`a conf nested 2,000 levels deep is a 400 naming the limit (${MAX_JSON_DEPTH}), and a conf within it still triggers`, async () => {
    const before = await runCount();
    expect(await errorOf(await call('POST', '/dags/input_checked/runs', { conf: nested(2000) }))).toEqual({
      status: 400,
      error: `body: nested deeper than ${MAX_JSON_DEPTH} levels (the limit)`,
    });
    // The body counts as a level: a conf one level short of the limit is past it, two short is not.
    expect((await call('POST', '/dags/input_checked/runs', { conf: nested(MAX_JSON_DEPTH) })).status).toBe(400);
    expect(await runCount()).toBe(before);
    const ok = await call('POST', '/dags/input_checked/runs', { conf: nested(MAX_JSON_DEPTH - 1) });
    expect(ok.status).toBe(201);
    // The public events API takes JSON too.
    const events = await fetch(`${web.api}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events: [nested(2000)] }) });
    expect(await errorOf(events)).toEqual({ status: 400, error: `body: nested deeper than ${MAX_JSON_DEPTH} levels (the limit)` });
  });

  it('a 404 for an unknown DAG names the DAG, not the server\'s DAGs folder', async () => {
    const trigger = await errorOf(await call('POST', '/dags/no_such_dag/runs', {}));
    expect(trigger).toEqual({ status: 404, error: 'DAG "no_such_dag" is not defined' });
    const clear = await errorOf(await call('POST', '/dags/no_such_dag/runs/r1/taskInstances/t1/clear', {}));
    expect(clear).toEqual({ status: 404, error: 'DAG "no_such_dag" is not defined' });
    for (const message of [trigger.error, clear.error]) {
      expect(message).not.toContain(INPUT_DAGS);
      expect(message).not.toMatch(/\//);
    }
  });

  it('a failed login logs whether the user exists, never the typed username', async () => {
    const typed = 'hunter2-secret-password';
    logLines.length = 0;
    const login = (username: string, password: string) =>
      fetch(`${web.api}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    expect((await login(typed, 'whatever-1')).status).toBe(401);
    expect((await login('viewer1', 'wrong-password-1')).status).toBe(401);

    const warnings = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'failed login');
    expect(warnings).toEqual([
      expect.objectContaining({ level: 40, userExists: false, usernameSha256: createHash('sha256').update(typed).digest('hex').slice(0, 8), usernameLength: typed.length }),
      expect.objectContaining({ level: 40, userExists: true, user: 'viewer1', reason: 'wrong password' }),
    ]);
    expect(warnings[0]).not.toHaveProperty('username');
    expect(logLines.join('')).not.toContain(typed);
    expect(logLines.join('')).not.toContain('hunter2');
  });
});
