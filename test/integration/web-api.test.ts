import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebApp, listen } from '../../web/server.ts';
import { Harness } from '../support/harness.ts';

describe('read-only REST API', () => {
  let harness: Harness;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    harness = await Harness.start();
    server = await listen(createWebApp({ db: harness.db, logger: harness.runtime.logger }), 0, '127.0.0.1');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  });
  afterAll(async () => {
    server?.close();
    await harness?.close();
  });

  it('lists DAGs, runs and task instances of a finished run', async () => {
    const run = await harness.trigger('chain');
    await harness.waitForRun(run.dagRunId);
    const dags = (await (await fetch(`${base}/dags`)).json()) as { dags: { dagId: string }[] };
    expect(dags.dags.map((d) => d.dagId)).toContain('chain');
    const runs = (await (await fetch(`${base}/dags/chain/runs?limit=5`)).json()) as { runs: { runId: string; state: string }[] };
    expect(runs.runs[0]).toMatchObject({ runId: run.runId, state: 'success' });
    const tis = await fetch(`${base}/dags/chain/runs/${encodeURIComponent(run.runId)}/taskInstances`);
    expect(tis.status).toBe(200);
    const body = (await tis.json()) as { taskInstances: { taskId: string; state: string }[] };
    expect(body.taskInstances.map((t) => `${t.taskId}:${t.state}`)).toEqual(['a:success', 'b:success', 'c:success']);
  });

  it('rejects a bad limit with 400 and a reason, and unknown things with 404', async () => {
    const bad = await fetch(`${base}/dags/chain/runs?limit=abc`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/limit/);
    expect((await fetch(`${base}/dags/nope`)).status).toBe(404);
    expect((await fetch(`${base}/dags/chain/runs/nope/taskInstances`)).status).toBe(404);
    expect((await fetch(`${base}/no-such-endpoint`)).status).toBe(404);
  });
});
