import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../core/db/queries/audit-log.ts';
import { json, tokenRequest, WebFixture } from './web-support.ts';

interface TryView {
  tryNumber: number;
  state: string;
  error: string | null;
  current: boolean;
}

describe('operator actions over the API', () => {
  let web: WebFixture;
  let tmp: string;
  let token: string;
  const call = (method: string, path: string, body?: unknown) => tokenRequest(web.api, method, path, token, body);
  const runPath = (runId: string) => `/dags/web_flaky/runs/${encodeURIComponent(runId)}`;

  beforeAll(async () => {
    web = await WebFixture.start();
    token = web.users.operator.token;
    tmp = await mkdtemp(path.join(os.tmpdir(), 'flywheel-web-actions-'));
  });
  afterAll(async () => {
    await web?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function failedRun() {
    const res = await call('POST', '/dags/web_flaky/runs', { conf: { note: 'x' } });
    expect(res.status).toBe(201);
    const run = await json<{ id: number; runId: string; conf: unknown; triggeredBy: string; state: string }>(res);
    expect(run).toMatchObject({ conf: { note: 'x' }, triggeredBy: web.users.operator.username });
    expect(['queued', 'running']).toContain(run.state);
    expect((await web.harness.waitForRun(run.id)).state).toBe('failed');
    return run;
  }

  async function waitForTask(dagRunId: number, taskId: string, state: string) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const states = await web.harness.taskStates(dagRunId);
      if (states[taskId] === state) return;
      if (Date.now() > deadline) throw new Error(`${taskId} is ${states[taskId]}, not ${state}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('clears a failed task with its downstream: both run again and the run succeeds; every try stays visible', async () => {
    const run = await failedRun();
    const res = await call('POST', `${runPath(run.runId)}/taskInstances/transform/clear`, { downstream: true });
    expect(res.status).toBe(200);
    expect((await json<{ cleared: string[] }>(res)).cleared.sort()).toEqual(['load', 'transform']);
    expect((await web.harness.waitForRun(run.id)).state).toBe('success');
    const detail = await json<{ state: string; tryNumber: number; tries: TryView[] }>(await call('GET', `${runPath(run.runId)}/taskInstances/transform`));
    expect(detail).toMatchObject({ state: 'success', tryNumber: 2 });
    expect(detail.tries.map((t) => [t.tryNumber, t.state])).toEqual([
      [1, 'failed'],
      [2, 'success'],
    ]);
    const logs1 = await json<{ lines: { message: string }[] }>(await call('GET', `${runPath(run.runId)}/taskInstances/transform/tries/1/logs`));
    const logs2 = await json<{ lines: { message: string }[] }>(await call('GET', `${runPath(run.runId)}/taskInstances/transform/tries/2/logs`));
    expect(logs1.lines.map((l) => l.message)).toContain('transforming 3 rows on try 1');
    expect(logs2.lines.map((l) => l.message)).toContain('transforming 3 rows on try 2');
    const xcom = await json<{ value: unknown; byTry: { tryNumber: number; value: unknown }[] }>(await call('GET', `${runPath(run.runId)}/taskInstances/transform/xcom`));
    expect(xcom.value).toEqual({ rows: 3, transformed: true });
    expect(xcom.byTry).toEqual([
      { tryNumber: 1, state: 'failed', value: null },
      { tryNumber: 2, state: 'success', value: { rows: 3, transformed: true } },
    ]);
  });

  it('clears without downstream: only that task reruns, the upstream_failed one after it stays', async () => {
    const run = await failedRun();
    const res = await json<{ cleared: string[] }>(await call('POST', `${runPath(run.runId)}/taskInstances/transform/clear`, {}));
    expect(res.cleared).toEqual(['transform']);
    expect((await web.harness.waitForRun(run.id)).state).toBe('failed');
    expect(await web.harness.taskStates(run.id)).toEqual({ extract: 'success', transform: 'success', load: 'upstream_failed' });
  });

  it('clears every failed task of a run at once', async () => {
    const run = await failedRun();
    const res = await json<{ cleared: string[] }>(await call('POST', `${runPath(run.runId)}/clear`, {}));
    expect(res.cleared.sort()).toEqual(['load', 'transform']);
    expect((await web.harness.waitForRun(run.id)).state).toBe('success');
    // Nothing failed any more: clearing again clears nothing.
    expect((await json<{ cleared: string[] }>(await call('POST', `${runPath(run.runId)}/clear`, {}))).cleared).toEqual([]);
    // Both clears are audited, the one that cleared nothing too (newest first).
    const entries = await listAuditEntries(web.harness.db, { limit: 10, action: 'run.clear_failed' });
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ actor: web.users.operator.username, runId: run.runId, details: { cleared: [] } });
    expect(entries[1]).toMatchObject({ actor: web.users.operator.username, runId: run.runId });
    expect((entries[1]!.details.cleared as string[]).sort()).toEqual(['load', 'transform']);
  });

  it('marks a finished task success or failed and derives the run state again', async () => {
    const run = await failedRun();
    const mark = (taskId: string, state: string) => call('PATCH', `${runPath(run.runId)}/taskInstances/${taskId}`, { state });
    const first = await mark('transform', 'success');
    expect(first.status).toBe(200);
    // load is still upstream_failed (a leaf): the run stays failed, as after a clear without downstream.
    expect(await json(first)).toMatchObject({ previousState: 'failed', state: 'success', runState: 'failed' });
    expect(await json(await mark('load', 'success'))).toMatchObject({ previousState: 'upstream_failed', state: 'success', runState: 'success' });
    expect((await web.harness.run('web_flaky', run.runId))!.state).toBe('success');
    // The same state again is a conflict, with the reason.
    const again = await mark('load', 'success');
    expect(again.status).toBe(409);
    expect((await json<{ error: string }>(again)).error).toMatch(/already success/);
    expect(await json(await mark('extract', 'failed'))).toMatchObject({ state: 'failed', runState: 'success' }); // extract is no leaf
    expect(await json(await mark('load', 'failed'))).toMatchObject({ state: 'failed', runState: 'failed' });
  });

  it('marking a running try failed ends it: its late finish is ignored, the downstream task becomes upstream_failed', async () => {
    const release = path.join(tmp, 'release-failed');
    const res = await call('POST', '/dags/web_hold/runs', { conf: { release } });
    const run = await json<{ id: number; runId: string }>(res);
    await waitForTask(run.id, 'wait', 'running');
    const marked = await call('PATCH', `/dags/web_hold/runs/${encodeURIComponent(run.runId)}/taskInstances/wait`, { state: 'failed' });
    expect(marked.status).toBe(200);
    expect(await json(marked)).toMatchObject({ previousState: 'running', state: 'failed', runState: 'failed' });
    await writeFile(release, 'go'); // the try would now return success, if it were still running
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await web.harness.taskStates(run.id)).toEqual({ first: 'success', wait: 'failed', after: 'upstream_failed' });
    expect((await web.harness.run('web_hold', run.runId))!.state).toBe('failed');
    const tries = (await json<{ tries: TryView[] }>(await call('GET', `/dags/web_hold/runs/${encodeURIComponent(run.runId)}/taskInstances/wait/tries`))).tries;
    expect(tries).toHaveLength(1);
    expect(tries[0]).toMatchObject({ tryNumber: 1, state: 'failed', current: false });
    expect(tries[0]!.error).toBe(`marked failed by ${web.users.operator.username}`);
  });

  it('marking a running try success lets the run go on at once', async () => {
    const release = path.join(tmp, 'release-success');
    const run = await json<{ id: number; runId: string }>(await call('POST', '/dags/web_hold/runs', { conf: { release } }));
    await waitForTask(run.id, 'wait', 'running');
    const marked = await call('PATCH', `/dags/web_hold/runs/${encodeURIComponent(run.runId)}/taskInstances/wait`, { state: 'success' });
    expect(await json(marked)).toMatchObject({ previousState: 'running', state: 'success' });
    expect((await web.harness.waitForRun(run.id)).state).toBe('success');
    expect(await web.harness.taskStates(run.id)).toEqual({ first: 'success', wait: 'success', after: 'success' });
    expect(existsSync(release)).toBe(false); // it finished without the try's own success
  });

  it('pauses and unpauses a DAG; the DAG list shows it with its next run', async () => {
    const dags = async () => (await json<{ dags: { dagId: string; isPaused: boolean; nextRun: { logicalDate: string } | null }[] }>(await call('GET', '/dags'))).dags;
    expect((await dags()).find((d) => d.dagId === 'web_daily')).toMatchObject({ isPaused: true, nextRun: null });
    expect(await json(await call('PATCH', '/dags/web_daily', { isPaused: false }))).toEqual({ dagId: 'web_daily', isPaused: false, changed: true });
    // The running scheduler creates the latest interval's run and books the next one: 06:00 London.
    let unpaused = (await dags()).find((d) => d.dagId === 'web_daily')!;
    for (let i = 0; i < 100 && !unpaused.nextRun; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      unpaused = (await dags()).find((d) => d.dagId === 'web_daily')!;
    }
    expect(unpaused.isPaused).toBe(false);
    const next = new Date(unpaused.nextRun!.logicalDate);
    expect(next.getTime()).toBeGreaterThan(Date.now() - 2 * 86_400_000);
    expect(next.toLocaleString('en-GB', { timeZone: 'Europe/London', hour: '2-digit', minute: '2-digit' })).toBe('06:00');
    expect(await json(await call('PATCH', '/dags/web_daily', { isPaused: true }))).toEqual({ dagId: 'web_daily', isPaused: true, changed: true });
    expect((await dags()).find((d) => d.dagId === 'web_daily')).toMatchObject({ isPaused: true, nextRun: null });
    expect((await call('PATCH', '/dags/nope', { isPaused: true })).status).toBe(404);
  });

  it('sets pools (admin) and lists them with their running and queued counts', async () => {
    const admin = web.users.admin.token;
    const res = await tokenRequest(web.api, 'PUT', '/pools/web_tests', admin, { slots: 4, description: 'for tests' });
    expect(res.status).toBe(200);
    const pools = await json<{ pools: { name: string; slots: number; running: number; queued: number }[] }>(await call('GET', '/pools'));
    expect(pools.pools.find((p) => p.name === 'web_tests')).toEqual({ name: 'web_tests', slots: 4, description: 'for tests', running: 0, queued: 0 });
    expect((await tokenRequest(web.api, 'PUT', '/pools/bad name', admin, { slots: 4 })).status).toBe(400);
  });

  it('rejects bad write input with 400 and a reason, unknown targets with 404', async () => {
    const run = await failedRun();
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', '/dags/web_flaky/runs', { conf: [1, 2] }, 400, /conf/],
      ['POST', '/dags/web_flaky/runs', { conf: 'text' }, 400, /conf/],
      ['POST', '/dags/web_flaky/runs', { conf: {}, extra: 1 }, 400, /extra/],
      ['POST', '/dags/web_flaky/runs', { logicalDate: 'yesterday' }, 400, /logicalDate/],
      ['POST', '/dags/nope/runs', { conf: {} }, 404, /nope/],
      ['PATCH', '/dags/web_daily', { isPaused: 'yes' }, 400, /isPaused/],
      ['PATCH', '/dags/web_daily', {}, 400, /isPaused/],
      ['PATCH', `${runPath(run.runId)}/taskInstances/transform`, { state: 'running' }, 400, /state/],
      ['PATCH', `${runPath(run.runId)}/taskInstances/nope`, { state: 'success' }, 404, /no task/],
      ['POST', `${runPath(run.runId)}/taskInstances/transform/clear`, { downstream: 'yes' }, 400, /downstream/],
      ['POST', `${runPath('nope')}/taskInstances/transform/clear`, {}, 404, /no run/],
      ['POST', `${runPath(run.runId)}/clear`, { onlyFailed: false }, 400, /onlyFailed/],
      ['PUT', '/pools/x', { slots: 0 }, 400, /slots/],
    ];
    for (const [method, p, body, status, reason] of cases) {
      const res = await tokenRequest(web.api, method, p, web.users.admin.token, body);
      expect(res.status, `${method} ${p} ${JSON.stringify(body)}`).toBe(status);
      expect((await json<{ error: string }>(res)).error, `${method} ${p}`).toMatch(reason);
    }
    const malformed = await fetch(`${web.api}/dags/web_flaky/runs`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"conf":' });
    expect(malformed.status).toBe(400);
    expect((await json<{ error: string }>(malformed)).error).toMatch(/not valid JSON/);
    // Nothing was triggered by the rejected requests: the only runs are the ones the tests made.
    expect((await web.harness.run('web_flaky', run.runId))!.state).toBe('failed');
  });
});
