/**
 * Bad input over the REST API gets a clear 4xx and loses nothing: non-JSON write bodies (415),
 * undecodable path escapes (400, not logged as errors), a conf the DAG rejects (400), a
 * duplicate explicit logical date (409); and a write that changes nothing is still audited.
 */
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../core/db/queries/audit-log.ts';
import { json, tokenRequest, WebFixture } from './web-support.ts';

const INPUT_DAGS = fileURLToPath(new URL('../fixtures/dags-input', import.meta.url));

interface RunView {
  id: number;
  runId: string;
  conf: unknown;
  logicalDate: string;
}

describe('REST API input', () => {
  let web: WebFixture;
  let token: string;
  const logLines: string[] = [];
  const call = (method: string, path: string, body?: unknown) => tokenRequest(web.api, method, path, token, body);
  /** A request with a raw body and headers of the test's choosing. */
  const raw = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    fetch(`${web.api}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...headers }, ...(body !== undefined ? { body } : {}) });
  const runCount = async () =>
    Number((await web.harness.db.execute<{ n: string }>(sql`select count(*) as n from dag_run where dag_id = 'input_checked'`)).rows[0]!.n);

  beforeAll(async () => {
    web = await WebFixture.start({
      dagsFolder: INPUT_DAGS,
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

  async function finishedRun(): Promise<RunView> {
    const res = await call('POST', '/dags/input_checked/runs', {});
    expect(res.status).toBe(201);
    const run = await json<RunView>(res);
    expect((await web.harness.waitForRun(run.id)).state).toBe('success');
    return run;
  }

  it('a clear of failed tasks that finds none is audited too', async () => {
    const run = await finishedRun();
    const res = await call('POST', `/dags/input_checked/runs/${encodeURIComponent(run.runId)}/clear`, {});
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ dagId: 'input_checked', runId: run.runId, dryRun: false, cleared: [], taskInstances: [] });
    const entries = await listAuditEntries(web.harness.db, { limit: 10, action: 'run.clear_failed' });
    expect(entries).toEqual([expect.objectContaining({ actor: web.users.operator.username, dagId: 'input_checked', runId: run.runId, details: { cleared: [] } })]);
  });
  it('a second trigger with the same explicit logical date is a 409 with a reason; triggers without one still both run', async () => {
    const logicalDate = '2026-03-01T00:00:00.000Z';
    const first = await call('POST', '/dags/input_checked/runs', { logicalDate });
    expect(first.status).toBe(201);
    expect(await json<RunView>(first)).toMatchObject({ runId: `manual__${logicalDate}`, logicalDate });
    const before = await runCount();
    const again = await call('POST', '/dags/input_checked/runs', { logicalDate, conf: { members: 3 } });
    expect(again.status).toBe(409);
    expect((await json<{ error: string }>(again)).error).toMatch(/already has a run for logical date 2026-03-01T00:00:00.000Z/);
    expect(await runCount()).toBe(before);

    const now = await Promise.all([call('POST', '/dags/input_checked/runs', {}), call('POST', '/dags/input_checked/runs', {})]);
    expect(now.map((r) => r.status)).toEqual([201, 201]);
  });

  it("a conf the DAG's validateConf rejects is a 400 with its reason, and no run is created", async () => {
    const before = await runCount();
    const res = await call('POST', '/dags/input_checked/runs', { conf: { members: -5 } });
    expect(res.status).toBe(400);
    expect((await json<{ error: string }>(res)).error).toBe('conf rejected by DAG "input_checked": members must be a positive integer, not -5');
    expect(await runCount()).toBe(before);
    const ok = await call('POST', '/dags/input_checked/runs', { conf: { members: 5 } });
    expect(ok.status).toBe(201);
    expect(await json<RunView>(ok)).toMatchObject({ conf: { members: 5 } });
  });
  it('a write whose body is not JSON is a 415 with a reason, and changes nothing', async () => {
    const run = await finishedRun();
    const before = await runCount();
    const audited = (await listAuditEntries(web.harness.db, { limit: 100 })).length;

    const trigger = await raw('POST', '/dags/input_checked/runs', { 'content-type': 'text/plain' }, '{"conf":{"members":1000}}');
    expect(trigger.status).toBe(415);
    expect((await json<{ error: string }>(trigger)).error).toBe('the body must be JSON (Content-Type: application/json), not text/plain');

    const clearPath = `/dags/input_checked/runs/${encodeURIComponent(run.runId)}/taskInstances/first/clear`;
    const clear = await raw('POST', clearPath, { 'content-type': 'application/x-www-form-urlencoded' }, '{"downstream":true}');
    expect(clear.status).toBe(415);
    expect((await json<{ error: string }>(clear)).error).toMatch(/must be JSON.*not application\/x-www-form-urlencoded/);

    // No Content-Type at all, and other write methods.
    const untyped = await fetch(`${web.api}/dags/input_checked/runs`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: new Uint8Array(Buffer.from('{}')) });
    expect(untyped.status).toBe(415);
    expect((await json<{ error: string }>(untyped)).error).toMatch(/no Content-Type/);
    const patch = await raw('PATCH', '/dags/input_checked', { 'content-type': 'text/plain' }, '{"isPaused":true}');
    expect(patch.status).toBe(415);

    expect(await runCount()).toBe(before);
    expect(await web.harness.taskStates(run.id)).toEqual({ first: 'success', second: 'success' });
    expect((await listAuditEntries(web.harness.db, { limit: 100 })).length).toBe(audited);
  });

  it('writes without a body, or with JSON in any charset spelling, still work', async () => {
    const run = await finishedRun();
    // No body at all (Content-Length: 0), whatever Content-Type the client sends along.
    const empty = await raw('POST', '/dags/input_checked/runs', { 'content-type': 'text/plain' });
    expect(empty.status).toBe(201);
    const bare = await fetch(`${web.api}/dags/input_checked/runs/${encodeURIComponent(run.runId)}/clear`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(bare.status).toBe(200);
    const charset = await raw('POST', `/dags/input_checked/runs/${encodeURIComponent(run.runId)}/taskInstances/first/clear`, { 'content-type': 'application/json; charset=utf-8' }, '{"downstream":true}');
    expect(charset.status).toBe(200);
    expect((await json<{ cleared: string[] }>(charset)).cleared.sort()).toEqual(['first', 'second']);
    // GET requests are not writes: a stray body type does not matter.
    expect((await raw('GET', '/dags/input_checked', { 'content-type': 'text/plain' })).status).toBe(200);
  });

  it('a malformed URL escape in the path is a 400 with a reason (token or anonymous), logged below error level', async () => {
    const paths = ['/members/%ZZ/picks', '/dags/%ZZ', '/dags/input_checked/runs/%E0%A4%A/taskInstances'];
    logLines.length = 0;
    for (const path of paths) {
      for (const auth of [token, null]) {
        const res = await tokenRequest(web.api, 'GET', path, auth);
        expect({ path, auth: auth ? 'token' : 'anonymous', status: res.status, body: await res.json() }).toEqual({
          path,
          auth: auth ? 'token' : 'anonymous',
          status: 400,
          body: { error: 'malformed URL escape in the path' },
        });
      }
    }
    const levels = logLines.map((line) => (JSON.parse(line) as { level: number }).level);
    expect(levels.filter((level) => level >= 40)).toEqual([]);
    expect(logLines.join('')).not.toContain('Failed to decode param');
  });
});
