import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, tokenRequest, WebFixture } from './web-support.ts';

describe('REST API reads', () => {
  let web: WebFixture;
  let token: string;
  const get = (path: string) => tokenRequest(web.api, 'GET', path, token);

  beforeAll(async () => {
    web = await WebFixture.start();
    token = web.users.viewer.token;
  });
  afterAll(async () => {
    await web?.close();
  });

  it('lists DAGs (with recent runs and next run), runs, one run and its task instances', async () => {
    const run = await web.harness.trigger('web_flaky');
    await web.harness.waitForRun(run.dagRunId);
    const dags = await json<{ dags: { dagId: string; recentRuns: { runId: string; state: string }[]; isPaused: boolean; nextRun: unknown; schedule: string | null }[] }>(await get('/dags'));
    const flaky = dags.dags.find((d) => d.dagId === 'web_flaky')!;
    expect(flaky.recentRuns).toEqual([expect.objectContaining({ runId: run.runId, state: 'failed' })]);
    expect(flaky.nextRun).toBeNull(); // manual-only DAG
    const daily = dags.dags.find((d) => d.dagId === 'web_daily')!;
    expect(daily).toMatchObject({ schedule: '0 6 * * *', isPaused: true, nextRun: null });

    const runs = await json<{ runs: { runId: string; state: string }[]; nextCursor: string | null }>(await get('/dags/web_flaky/runs?limit=5'));
    expect(runs.runs).toEqual([expect.objectContaining({ runId: run.runId, state: 'failed' })]);
    expect(runs.nextCursor).toBeNull();

    const detail = await json<{ runId: string; taskInstances: { taskId: string; state: string }[]; queuePrefix?: unknown }>(
      await get(`/dags/web_flaky/runs/${encodeURIComponent(run.runId)}`),
    );
    expect(detail.runId).toBe(run.runId);
    expect(detail).not.toHaveProperty('queuePrefix');
    expect(detail.taskInstances.map((t) => `${t.taskId}:${t.state}`)).toEqual(['extract:success', 'load:upstream_failed', 'transform:failed']);

    const tis = await get(`/dags/web_flaky/runs/${encodeURIComponent(run.runId)}/taskInstances`);
    expect(tis.status).toBe(200);
    expect((await json<{ taskInstances: unknown[] }>(tis)).taskInstances).toHaveLength(3);
  });

  it('shows every try, the log of a try and the XCom of a task', async () => {
    const run = await web.harness.trigger('web_flaky');
    await web.harness.waitForRun(run.dagRunId);
    const base = `/dags/web_flaky/runs/${encodeURIComponent(run.runId)}/taskInstances`;
    const transform = await json<{ state: string; tryNumber: number; tries: { tryNumber: number; state: string; error: string | null; startDate: string; endDate: string; durationMs: number }[] }>(
      await get(`${base}/transform`),
    );
    expect(transform).toMatchObject({ state: 'failed', tryNumber: 1 });
    expect(transform.tries).toHaveLength(1);
    expect(transform.tries[0]).toMatchObject({ tryNumber: 1, state: 'failed' });
    expect(transform.tries[0]!.error).toContain('column "score" is missing');
    expect(new Date(transform.tries[0]!.endDate).getTime()).toBeGreaterThanOrEqual(new Date(transform.tries[0]!.startDate).getTime());

    const logs = await json<{ lines: { id: number; level: string; message: string }[]; nextAfter: number }>(await get(`${base}/transform/tries/1/logs`));
    expect(logs.lines.map((l) => l.message)).toContain('transforming 3 rows on try 1');
    expect(logs.lines.some((l) => l.level === 'error' && l.message.includes('"score" is missing'))).toBe(true);
    // Tailing: nothing after the last line.
    const tail = await json<{ lines: unknown[] }>(await get(`${base}/transform/tries/1/logs?after=${logs.nextAfter}`));
    expect(tail.lines).toEqual([]);

    const xcom = await json<{ key: string; value: unknown; byTry: { tryNumber: number; value: unknown }[] }>(await get(`${base}/extract/xcom`));
    expect(xcom).toMatchObject({ key: 'return_value', value: { rows: 3 }, byTry: [{ tryNumber: 1, value: { rows: 3 } }] });
  });

  it('answers bad input with 400 and a reason, unknown things with 404', async () => {
    const cases: [string, number, RegExp][] = [
      ['/dags/web_flaky/runs?limit=abc', 400, /limit/],
      ['/dags/web_flaky/runs?limit=0', 400, /limit/],
      ['/dags/web_flaky/runs?limit=100000', 400, /limit/],
      ['/dags/web_flaky/runs?cursor=xyz', 400, /cursor/],
      ['/dags/web_flaky/runs?cursor=999999', 400, /cursor/],
      ['/dags/web_flaky/runs?state=exploded', 400, /state/],
      ['/dags/web_flaky/runs?limit=1&limit=2', 400, /limit/],
      ['/auditLog?limit=-1', 400, /limit/],
      ['/dags/web_flaky/runs/nope/taskInstances/extract/tries/abc/logs', 404, /no run/],
      ['/dags/nope', 404, /no DAG/],
      ['/dags/nope/runs', 404, /no DAG/],
      ['/dags/web_flaky/runs/nope', 404, /no run/],
      ['/no-such-endpoint', 404, /no such endpoint/],
    ];
    for (const [path, status, reason] of cases) {
      const res = await get(path);
      expect(res.status, path).toBe(status);
      expect((await json<{ error: string }>(res)).error, path).toMatch(reason);
    }
    const run = await web.harness.trigger('web_flaky');
    await web.harness.waitForRun(run.dagRunId);
    const base = `/dags/web_flaky/runs/${encodeURIComponent(run.runId)}/taskInstances`;
    expect((await get(`${base}/extract/tries/abc/logs`)).status).toBe(400);
    expect((await get(`${base}/extract/tries/9/logs`)).status).toBe(404);
    expect((await get(`${base}/load/tries/1/logs`)).status).toBe(404); // never ran
    expect((await get(`${base}/nope`)).status).toBe(404);
  });

  it('serves the health check and the UI without credentials', async () => {
    expect(await json(await fetch(`${web.api}/health`))).toEqual({ status: 'ok', database: 'ok', redis: 'ok' });
    const page = await fetch(`${web.origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
  });
});
