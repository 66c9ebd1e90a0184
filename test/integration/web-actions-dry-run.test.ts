import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../core/db/queries/audit-log.ts';
import { ACTION_DAG, ACTION_DAGS, FAILED_RUN, seededRun, setTask, snapshot, type Seeded } from '../support/action-runs.ts';
import { json, SessionClient, tokenRequest, WebFixture } from './web-support.ts';

interface Change {
  dagId: string;
  runId: string;
  taskId: string;
  state: string;
  tryNumber: number;
  newState: string;
}
interface ActionResponse {
  dryRun: boolean;
  taskInstances: Change[];
  cleared?: string[];
  runState?: string;
}

/**
 * The dry run of clear and mark (as Airflow's): it lists exactly the task instances the same
 * request then changes, and changes nothing; a confirmed action is a compare-and-set on what
 * the dry run showed. No workers or scheduler run here, so only the actions move task states.
 */
describe('clear and mark: dry run and compare-and-set over the API', () => {
  let web: WebFixture;
  const call = (method: string, path: string, body?: unknown, token = web.users.operator.token) => tokenRequest(web.api, method, path, token, body);
  const runPath = (runId: string) => `/dags/${ACTION_DAG}/runs/${encodeURIComponent(runId)}`;

  beforeAll(async () => {
    web = await WebFixture.start({ dagsFolder: ACTION_DAGS, workers: {}, scheduler: false });
  });
  afterAll(async () => {
    await web?.close();
  });

  const auditCount = async () => (await web.harness.db.execute<{ n: number }>(sql`select count(*)::int as n from audit_log`)).rows[0]!.n;
  const runState = async (runId: string) => (await web.harness.run(ACTION_DAG, runId))!.state;

  /**
   * Makes `request` as a dry run (the given `dryRun` style), checks that nothing changed, then
   * makes it for real with the dry run's list as `expected`, and returns the dry run's task ids
   * and the task ids whose state changed in the database.
   */
  async function dryThenReal(
    states: Record<string, Seeded>,
    request: (runId: string) => { method: string; path: string; body: Record<string, unknown> },
    options: { runState?: 'running' | 'failed'; style?: 'body' | 'query' } = {},
  ) {
    const run = await seededRun(web.harness, states, options.runState ?? 'failed');
    const { method, path, body } = request(run.runId);
    const before = await snapshot(web.harness, run.dagRunId);
    const runBefore = await runState(run.runId);
    const audits = await auditCount();

    const dryRes =
      options.style === 'query' ? await call(method, `${path}?dry_run=true`, body) : await call(method, path, { ...body, dryRun: true });
    expect(dryRes.status, await dryRes.clone().text()).toBe(200);
    const dry = await json<ActionResponse>(dryRes);
    expect(dry.dryRun).toBe(true);
    // The dry run changed nothing: no task instance, not the run, no audit entry.
    expect(await snapshot(web.harness, run.dagRunId)).toEqual(before);
    expect(await runState(run.runId)).toBe(runBefore);
    expect(await auditCount()).toBe(audits);
    for (const change of dry.taskInstances) {
      expect(change).toMatchObject({ dagId: ACTION_DAG, runId: run.runId, state: before[change.taskId]!.state, tryNumber: before[change.taskId]!.tryNumber });
    }

    const realRes = await call(method, path, { ...body, expected: dry.taskInstances });
    expect(realRes.status, await realRes.clone().text()).toBe(200);
    const real = await json<ActionResponse>(realRes);
    expect(real.dryRun).toBe(false);
    expect(real.taskInstances).toEqual(dry.taskInstances);
    const after = await snapshot(web.harness, run.dagRunId);
    // Changed: the row was written (state, try number, max tries or last update differ). A clear
    // can leave the state as it was: join cleared while clean is still failed is none for a
    // moment, then upstream_failed again at once (the scheduler's rules, run with the clear).
    const changed = Object.keys(before).filter((taskId) => JSON.stringify(after[taskId]) !== JSON.stringify(before[taskId]));
    expect(await auditCount()).toBe(audits + 1);
    return { run, dry, real, listed: dry.taskInstances.map((c) => c.taskId), changed, after };
  }

  const clearTask = (taskId: string, scope: Record<string, boolean>) => (runId: string) => ({ method: 'POST', path: `${runPath(runId)}/taskInstances/${taskId}/clear`, body: scope });
  const markTask = (taskId: string, state: string, scope: Record<string, boolean> = {}) => (runId: string) => ({
    method: 'PATCH',
    path: `${runPath(runId)}/taskInstances/${taskId}`,
    body: { state, ...scope },
  });

  const CLEAR_CASES: [string, string, Record<string, boolean>, string[]][] = [
    ['the task alone', 'clean', {}, ['clean']],
    ['downstream', 'clean', { downstream: true }, ['clean', 'join', 'publish', 'report']],
    ['upstream', 'clean', { upstream: true }, ['extract', 'clean']],
    ['failed only', 'join', { onlyFailed: true }, ['join']],
    ['upstream + failed only', 'join', { upstream: true, onlyFailed: true }, ['clean', 'join']],
    ['upstream + downstream', 'join', { upstream: true, downstream: true }, ['extract', 'clean', 'enrich', 'join', 'publish']],
    ['upstream + downstream + failed only', 'join', { upstream: true, downstream: true, onlyFailed: true }, ['clean', 'join', 'publish']],
    ['failed only on a task that did not fail', 'extract', { downstream: true, onlyFailed: true }, ['clean', 'join', 'publish', 'report']],
  ];
  for (const [name, taskId, scope, expected] of CLEAR_CASES) {
    it(`clear (${name}): the dry run lists exactly the task instances the clear then changes`, async () => {
      const { listed, changed, real, dry, after } = await dryThenReal(FAILED_RUN, clearTask(taskId, scope), { style: name === 'downstream' ? 'query' : 'body' });
      expect(listed.sort()).toEqual([...expected].sort());
      expect(changed.sort()).toEqual([...expected].sort());
      expect(real.cleared!.sort()).toEqual([...expected].sort());
      for (const change of dry.taskInstances) expect(change.newState).toBe('none');
      // Cleared: back to none, or already queued again by the scheduler code that runs with the clear.
      // Cleared: back to none, queued again at once, or upstream_failed again at once (its upstream still failed).
      for (const taskId of expected) expect(['none', 'queued', 'upstream_failed']).toContain(after[taskId]!.state);
    });
  }

  it('clear of the whole run (failed tasks): the dry run lists what the clear changes', async () => {
    const { listed, changed } = await dryThenReal(FAILED_RUN, (runId) => ({ method: 'POST', path: `${runPath(runId)}/clear`, body: {} }));
    expect(listed).toEqual(['clean', 'report', 'join', 'publish']); // the DAG's (topological) order
    expect(changed.sort()).toEqual(['clean', 'join', 'publish', 'report']);
  });

  const MARK_CASES: [string, () => (runId: string) => { method: string; path: string; body: Record<string, unknown> }, string[], string][] = [
    ['success, the task alone', () => markTask('clean', 'success'), ['clean'], 'success'],
    ['success with downstream', () => markTask('clean', 'success', { downstream: true }), ['clean', 'join', 'publish', 'report'], 'success'],
    ['failed with upstream', () => markTask('join', 'failed', { upstream: true }), ['extract', 'enrich', 'join'], 'failed'],
    ['failed with downstream', () => markTask('extract', 'failed', { downstream: true }), ['extract', 'enrich', 'clean', 'join', 'publish', 'report'].filter((t) => t !== 'clean'), 'failed'],
    ['the whole run success', () => (runId) => ({ method: 'PATCH', path: runPath(runId), body: { state: 'success' } }), ['clean', 'join', 'publish', 'report'], 'success'],
  ];
  for (const [name, request, expected, newState] of MARK_CASES) {
    it(`mark ${name}: the dry run lists exactly the task instances the mark then changes`, async () => {
      const { listed, changed, dry, after } = await dryThenReal(FAILED_RUN, request());
      expect(listed.sort()).toEqual([...expected].sort());
      expect(changed.sort()).toEqual([...expected].sort());
      for (const change of dry.taskInstances) expect(change.newState).toBe(newState);
      for (const taskId of expected) expect(after[taskId]!.state).toBe(newState);
    });
  }

  it('mark the whole (running) run failed: every unfinished task instance, and the run ends failed', async () => {
    const running: Record<string, Seeded> = { extract: ['success', 1], clean: ['running', 1], enrich: ['queued', 1], join: ['none', 0], publish: ['none', 0], report: ['none', 0] };
    const { listed, changed, real } = await dryThenReal(running, (runId) => ({ method: 'PATCH', path: runPath(runId), body: { state: 'failed' } }), { runState: 'running' });
    expect(listed).toEqual(['clean', 'enrich', 'report', 'join', 'publish']);
    expect(changed.sort()).toEqual(['clean', 'enrich', 'join', 'publish', 'report']);
    expect(real.runState).toBe('failed');
  });

  it('the dry run lists task instances with their current state, try number and new state, in the DAG order', async () => {
    const run = await seededRun(web.harness, { ...FAILED_RUN, clean: ['failed', 2] });
    const res = await call('POST', `${runPath(run.runId)}/taskInstances/clean/clear?dry_run=1`, { downstream: true });
    expect(await json(res)).toEqual({
      dagId: ACTION_DAG,
      runId: run.runId,
      dryRun: true,
      cleared: ['clean', 'report', 'join', 'publish'],
      taskInstances: [
        { dagId: ACTION_DAG, runId: run.runId, taskId: 'clean', state: 'failed', tryNumber: 2, newState: 'none' },
        { dagId: ACTION_DAG, runId: run.runId, taskId: 'report', state: 'upstream_failed', tryNumber: 0, newState: 'none' },
        { dagId: ACTION_DAG, runId: run.runId, taskId: 'join', state: 'upstream_failed', tryNumber: 0, newState: 'none' },
        { dagId: ACTION_DAG, runId: run.runId, taskId: 'publish', state: 'upstream_failed', tryNumber: 0, newState: 'none' },
      ],
    });
    // A mark of a task already in that state: an empty dry run; the mark itself is a conflict.
    const dryMark = await json<ActionResponse>(await call('PATCH', `${runPath(run.runId)}/taskInstances/extract`, { state: 'success', dryRun: true }));
    expect(dryMark.taskInstances).toEqual([]);
    expect((await call('PATCH', `${runPath(run.runId)}/taskInstances/extract`, { state: 'success' })).status).toBe(409);
    // The query and the body must agree; a bad value is a 400.
    expect((await call('POST', `${runPath(run.runId)}/taskInstances/clean/clear?dry_run=false`, { dryRun: true })).status).toBe(400);
    expect((await call('POST', `${runPath(run.runId)}/taskInstances/clean/clear?dry_run=maybe`, {})).status).toBe(400);
  });

  it('a stale expected try number or list is a 409 and changes nothing', async () => {
    const run = await seededRun(web.harness, FAILED_RUN);
    const dry = await json<ActionResponse>(await call('POST', `${runPath(run.runId)}/taskInstances/clean/clear`, { downstream: true, dryRun: true }));
    const seen = dry.taskInstances.find((c) => c.taskId === 'clean')!;
    expect(seen).toMatchObject({ state: 'failed', tryNumber: 1 });
    // Meanwhile clean ran again (try 2) and failed again.
    await setTask(web.harness, run.dagRunId, 'clean', 'failed', 2);
    const before = await snapshot(web.harness, run.dagRunId);
    const audits = await auditCount();

    const byTry = await call('POST', `${runPath(run.runId)}/taskInstances/clean/clear`, { downstream: true, expectedTryNumber: 1, expectedState: 'failed' });
    expect(byTry.status).toBe(409);
    expect((await json<{ error: string }>(byTry)).error).toMatch(/changed meanwhile.*try 2/);
    const byList = await call('POST', `${runPath(run.runId)}/taskInstances/clean/clear`, { downstream: true, expected: dry.taskInstances });
    expect(byList.status).toBe(409);
    expect((await json<{ error: string }>(byList)).error).toMatch(/changed meanwhile/);
    const mark = await call('PATCH', `${runPath(run.runId)}/taskInstances/clean`, { state: 'success', expectedTryNumber: 1 });
    expect(mark.status).toBe(409);
    const markList = await call('PATCH', `${runPath(run.runId)}/taskInstances/clean`, { state: 'success', downstream: true, expected: [{ taskId: 'clean', state: 'failed', tryNumber: 1 }] });
    expect(markList.status).toBe(409);
    const runClear = await call('POST', `${runPath(run.runId)}/clear`, { expected: dry.taskInstances });
    expect(runClear.status).toBe(409);

    expect(await snapshot(web.harness, run.dagRunId)).toEqual(before);
    expect(await runState(run.runId)).toBe('failed');
    expect(await auditCount()).toBe(audits);

    // With what is there now, it goes through, and is audited with the tries it cleared.
    const ok = await call('POST', `${runPath(run.runId)}/taskInstances/clean/clear`, { downstream: true, expectedTryNumber: 2, expectedState: 'failed' });
    expect(ok.status).toBe(200);
    const [entry] = await listAuditEntries(web.harness.db, { limit: 1, action: 'task.clear' });
    expect(entry).toMatchObject({ actor: web.users.operator.username, runId: run.runId, taskId: 'clean', details: { downstream: true, upstream: false, onlyFailed: false, tries: { clean: 2 } } });
  });

  it('a mark is audited with every task instance it marked', async () => {
    const { run } = await dryThenReal(FAILED_RUN, markTask('clean', 'success', { downstream: true }));
    const [entry] = await listAuditEntries(web.harness.db, { limit: 1, action: 'task.mark_success' });
    expect(entry).toMatchObject({ runId: run.runId, taskId: 'clean', details: { previousState: 'failed', tryNumber: 1, state: 'success', downstream: true } });
    expect((entry!.details.marked as { taskId: string }[]).map((m) => m.taskId).sort()).toEqual(['clean', 'join', 'publish', 'report']);
  });

  it('a viewer gets 403 for dry runs and actions alike; a session without its CSRF token too; nothing changes', async () => {
    const run = await seededRun(web.harness, FAILED_RUN);
    const before = await snapshot(web.harness, run.dagRunId);
    const viewer = web.users.viewer.token;
    const requests: [string, string, unknown][] = [
      ['POST', `${runPath(run.runId)}/taskInstances/clean/clear?dry_run=true`, { downstream: true }],
      ['POST', `${runPath(run.runId)}/taskInstances/clean/clear`, { downstream: true, dryRun: true }],
      ['POST', `${runPath(run.runId)}/taskInstances/clean/clear`, { downstream: true }],
      ['PATCH', `${runPath(run.runId)}/taskInstances/clean`, { state: 'success', dryRun: true }],
      ['PATCH', `${runPath(run.runId)}/taskInstances/clean`, { state: 'success' }],
      ['POST', `${runPath(run.runId)}/clear`, { dryRun: true }],
      ['PATCH', runPath(run.runId), { state: 'success' }],
      ['PATCH', runPath(run.runId), { state: 'success', dryRun: true }],
    ];
    for (const [method, path, body] of requests) {
      const res = await call(method, path, body, viewer);
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    const operator = await SessionClient.login(web.api, web.users.operator.username);
    const noCsrf = await operator.request('POST', `${runPath(run.runId)}/taskInstances/clean/clear`, { dryRun: true }, { csrf: false });
    expect(noCsrf.status).toBe(403);
    expect(await snapshot(web.harness, run.dagRunId)).toEqual(before);
    // The same operator session with its token may dry-run.
    expect((await operator.request('POST', `${runPath(run.runId)}/taskInstances/clean/clear`, { dryRun: true })).status).toBe(200);
  });
});
