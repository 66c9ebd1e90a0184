import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlywheel } from '../support/cli.ts';
import { listAuditEntries } from '../../core/db/queries/audit-log.ts';
import { activeExperiments } from '../../daily-picks/experiments/experiment.ts';
import { createExperiment, getExperiment, listExperiments, parseVariants, stopExperiment, type CreateExperimentInput } from '../../daily-picks/experiments/store.ts';
import { registerModel } from '../../model/registry.ts';
import { json, SessionClient, tokenRequest, WebFixture } from './web-support.ts';

const year = (y: number, month = 0, day = 1) => new Date(Date.UTC(y, month, day));
const HM = [{ key: 'heuristics', weight: 50 }, { key: 'model', weight: 50 }];

/** The experiment store (validation, overlap, stop), the REST API (roles, CSRF, audit) and the CLI, on one database. */
describe('experiments: store, API and CLI', () => {
  let web: WebFixture;
  const db = () => web.harness.db;
  const cli = (...args: string[]) => runFlywheel(args, { env: web.harness.childEnv(), timeoutMs: 60_000 });

  beforeAll(async () => {
    web = await WebFixture.start({ scheduler: false, workers: {} });
  });
  afterAll(async () => {
    await web?.close();
  });

  it('parseVariants reads KEY:WEIGHT lists and says what is wrong with a bad one', () => {
    expect(parseVariants('heuristics:50,model:50')).toEqual(HM);
    expect(parseVariants(' heuristics:34, model:33 ,ranker-2026-01-01-001:33')).toEqual([
      { key: 'heuristics', weight: 34 },
      { key: 'model', weight: 33 },
      { key: 'ranker-2026-01-01-001', weight: 33 },
    ]);
    expect(() => parseVariants('')).toThrow(/expected KEY:WEIGHT/);
    expect(() => parseVariants('heuristics:50,,model:50')).toThrow(/expected KEY:WEIGHT/);
    expect(() => parseVariants('heuristics,model')).toThrow('variants: "heuristics" is not KEY:WEIGHT (e.g. model:50)');
    expect(() => parseVariants('heuristics:half,model:50')).toThrow('variants: the weight of "heuristics" must be a whole percentage, not "half"');
    expect(() => parseVariants('heuristics:50.5,model:49.5')).toThrow(/whole percentage/);
  });

  it('refuses bad input with a message naming the problem', async () => {
    const ok: CreateExperimentInput = { key: 'valid', variants: HM, startAt: year(2001), endAt: year(2002) };
    const cases: [Partial<CreateExperimentInput>, RegExp][] = [
      [{ key: 'Bad Key' }, /^key: "Bad Key" must be 1–63 lower-case letters/],
      [{ key: '-x' }, /^key: /],
      [{ key: 'x'.repeat(64) }, /^key: /],
      [{ variants: [{ key: 'heuristics', weight: 100 }] }, /at least two variants/],
      [{ variants: [{ key: 'heuristics', weight: 50 }, { key: 'heuristics', weight: 50 }] }, /"heuristics" appears twice/],
      [{ variants: [{ key: 'heuristics', weight: 60 }, { key: 'model', weight: 50 }] }, /weights must sum to 100, not 110 \(heuristics:60,model:50\)/],
      [{ variants: [{ key: 'heuristics', weight: 100 }, { key: 'model', weight: 0 }] }, /weight of "heuristics" must be a whole percentage from 1 to 99, not 100/],
      [{ variants: [{ key: 'heuristics', weight: 50.5 }, { key: 'model', weight: 49.5 }] }, /whole percentage/],
      [{ variants: [{ key: 'heuristics', weight: 50 }, { key: 'ranker-1999-01-01-001', weight: 50 }] }, /"ranker-1999-01-01-001" is neither a ranker \(heuristics, model, model_ignore_aware\) nor a registered model version/],
      [{ rows: ['popular'] }, /rows: "popular" is not a row an experiment can rank \(for_your_usual, quick_workout, something_new, ranked\)/],
      [{ rows: [] }, /rows: name at least one/],
      [{ rows: ['ranked', 'ranked'] }, /"ranked" appears twice/],
      [{ endAt: year(2000) }, /end \(2000-01-01T00:00:00.000Z\) must be after start \(2001-01-01T00:00:00.000Z\)/],
      [{ endAt: year(2001) }, /must be after start/],
    ];
    for (const [change, message] of cases) {
      await expect(createExperiment(db(), { ...ok, ...change }, 'tester'), JSON.stringify(change)).rejects.toMatchObject({ kind: 'invalid', message: expect.stringMatching(message) });
    }
    expect(await listExperiments(db())).toEqual([]);

    // A registered model version may be a variant once its training succeeded.
    const failed = await registerModel(db(), { backend: 'cpu', status: 'failed', error: 'NaN loss' });
    const good = await registerModel(db(), { backend: 'cpu', status: 'succeeded' });
    await expect(createExperiment(db(), { ...ok, variants: [{ key: 'model', weight: 50 }, { key: failed.version, weight: 50 }] }, 'tester')).rejects.toThrow(`variants: model version "${failed.version}" cannot rank: its training failed`);
    const created = await createExperiment(db(), { ...ok, key: 'versions', variants: [{ key: 'model', weight: 50 }, { key: good.version, weight: 50 }], description: '  new vs production  ' }, 'tester');
    expect(created).toMatchObject({ key: 'versions', rows: ['for_your_usual', 'quick_workout', 'something_new'], description: 'new vs production', createdBy: 'tester', status: 'ended', stoppedAt: null });
    await expect(createExperiment(db(), { ...ok, key: 'versions', startAt: year(2003), endAt: null }, 'tester')).rejects.toMatchObject({ kind: 'conflict', message: 'experiment "versions" already exists' });
  });

  it('two experiments may not share a row while both are live; other rows, or disjoint spans, are fine', async () => {
    const a = await createExperiment(db(), { key: 'overlap-a', variants: HM, rows: ['for_your_usual', 'quick_workout'], startAt: year(2010), endAt: year(2011) }, 'tester');
    expect(a.rows).toEqual(['for_your_usual', 'quick_workout']);
    await expect(createExperiment(db(), { key: 'overlap-b', variants: HM, rows: ['quick_workout'], startAt: year(2010, 6), endAt: year(2012) }, 'tester')).rejects.toMatchObject({
      kind: 'conflict',
      message: 'experiment "overlap-a" already ranks quick_workout in an overlapping time span (2010-01-01T00:00:00.000Z – 2011-01-01T00:00:00.000Z); two experiments live at once may not share a row',
    });
    // Open-ended, starting before: overlaps too.
    await expect(createExperiment(db(), { key: 'overlap-c', variants: HM, rows: ['for_your_usual'], startAt: year(2009) }, 'tester')).rejects.toMatchObject({ kind: 'conflict' });
    // Another row at the same time, the same rows right after: both fine.
    await createExperiment(db(), { key: 'overlap-d', variants: HM, rows: ['something_new', 'ranked'], startAt: year(2010, 3), endAt: year(2010, 9) }, 'tester');
    await createExperiment(db(), { key: 'overlap-e', variants: HM, rows: ['quick_workout'], startAt: year(2011), endAt: year(2011, 6) }, 'tester');
    // Once stopped, a row is free from the stop on.
    await stopExperiment(db(), 'overlap-a', 'tester', year(2010, 2));
    await createExperiment(db(), { key: 'overlap-f', variants: HM, rows: ['for_your_usual'], startAt: year(2010, 2), endAt: year(2010, 8) }, 'tester');
    expect((await activeExperiments(db(), year(2010, 4))).map((e) => e.key)).toEqual(['overlap-f', 'overlap-d']);
  });

  it('stop sets the time and who; stopping again, an ended or an unknown experiment is refused', async () => {
    await createExperiment(db(), { key: 'stop-me', variants: HM, rows: ['ranked'], startAt: year(2020), endAt: year(2021) }, 'tester');
    const stopped = await stopExperiment(db(), 'stop-me', 'op', year(2020, 5));
    expect(stopped).toMatchObject({ key: 'stop-me', stoppedAt: year(2020, 5), stoppedBy: 'op', status: 'stopped' });
    await expect(stopExperiment(db(), 'stop-me', 'op', year(2020, 6))).rejects.toMatchObject({ kind: 'conflict', message: 'experiment "stop-me" was already stopped at 2020-06-01T00:00:00.000Z by op' });
    await expect(stopExperiment(db(), 'overlap-e', 'op', year(2015))).rejects.toMatchObject({ kind: 'conflict', message: 'experiment "overlap-e" already ended at 2011-07-01T00:00:00.000Z' });
    await expect(stopExperiment(db(), 'nope', 'op')).rejects.toMatchObject({ kind: 'not_found', message: 'no experiment "nope"' });
    expect((await getExperiment(db(), 'stop-me', year(2020, 1)))?.status).toBe('running');
    expect(await getExperiment(db(), 'nope')).toBeNull();
  });

  it('API: reads need a viewer, writes an operator with CSRF; a viewer gets 403 and nothing is written', async () => {
    const body = { key: 'api-exp', variants: HM, rows: ['for_your_usual'], startAt: '2050-01-01T00:00:00Z', endAt: '2050-02-01T00:00:00Z', description: 'model vs heuristics' };
    expect((await tokenRequest(web.api, 'GET', '/experiments', null)).status).toBe(401);
    expect((await tokenRequest(web.api, 'POST', '/experiments', null, body)).status).toBe(401);
    const viewer = await tokenRequest(web.api, 'POST', '/experiments', web.users.viewer.token, body);
    expect(viewer.status).toBe(403);
    expect((await json<{ error: string }>(viewer)).error).toMatch(/needs the operator role/);
    const operatorSession = await SessionClient.login(web.api, web.users.operator.username);
    const noCsrf = await operatorSession.request('POST', '/experiments', body, { csrf: false });
    expect(noCsrf.status).toBe(403);
    expect((await json<{ error: string }>(noCsrf)).error).toMatch(/CSRF/);
    expect(await getExperiment(db(), 'api-exp')).toBeNull();

    for (const [bad, status, reason] of [
      [{ ...body, variants: 'heuristics:50,model:40' }, 400, /weights must sum to 100, not 90/],
      [{ ...body, rows: ['nope'] }, 400, /rows: "nope" is not a row/],
      [{ ...body, startAt: 'yesterday' }, 400, /startAt: "yesterday" is not an ISO 8601 date/],
      [{ ...body, colour: 'red' }, 400, /^body: /],
      [{ ...body, key: 'BAD' }, 400, /^key: /],
    ] as const) {
      const res = await tokenRequest(web.api, 'POST', '/experiments', web.users.operator.token, bad);
      expect(res.status, JSON.stringify(bad)).toBe(status);
      expect((await json<{ error: string }>(res)).error).toMatch(reason);
    }

    const created = await operatorSession.request('POST', '/experiments', body);
    expect(created.status).toBe(201);
    expect(await json(created)).toMatchObject({ key: 'api-exp', status: 'scheduled', createdBy: 'operator1', variants: HM, rows: ['for_your_usual'], description: 'model vs heuristics' });
    const again = await tokenRequest(web.api, 'POST', '/experiments', web.users.admin.token, { ...body, key: 'api-exp-2', variants: 'heuristics:50,model_ignore_aware:50' });
    expect(again.status).toBe(409);
    expect((await json<{ error: string }>(again)).error).toMatch(/"api-exp" already ranks for_your_usual/);

    const list = await json<{ experiments: { key: string; status: string }[] }>(await tokenRequest(web.api, 'GET', '/experiments', web.users.viewer.token));
    expect(list.experiments[0]).toMatchObject({ key: 'api-exp', status: 'scheduled' });
    const report = await json<Record<string, unknown>>(await tokenRequest(web.api, 'GET', '/experiments/api-exp?at=2050-01-15T00:00:00Z', web.users.viewer.token));
    expect(report).toMatchObject({ key: 'api-exp', status: 'running', srmFlagged: false, description: 'model vs heuristics', createdBy: 'operator1', stoppedBy: null });
    expect((report.variants as { key: string }[]).map((v) => v.key)).toEqual(['heuristics', 'model']);
    expect((await tokenRequest(web.api, 'GET', '/experiments/nope', web.users.viewer.token)).status).toBe(404);
    expect((await tokenRequest(web.api, 'GET', '/experiments/NOPE', web.users.viewer.token)).status).toBe(400);
    expect((await tokenRequest(web.api, 'GET', '/experiments/api-exp?at=soon', web.users.viewer.token)).status).toBe(400);

    expect((await tokenRequest(web.api, 'POST', '/experiments/api-exp/stop', web.users.viewer.token, {})).status).toBe(403);
    const stop = await operatorSession.request('POST', '/experiments/api-exp/stop');
    expect(stop.status).toBe(200);
    expect(await json(stop)).toMatchObject({ key: 'api-exp', status: 'stopped', stoppedBy: 'operator1' });
    const twice = await tokenRequest(web.api, 'POST', '/experiments/api-exp/stop', web.users.operator.token, {});
    expect(twice.status).toBe(409);
    expect((await json<{ error: string }>(twice)).error).toMatch(/already stopped/);
    expect((await tokenRequest(web.api, 'POST', '/experiments/nope/stop', web.users.operator.token, {})).status).toBe(404);

    const entries = await listAuditEntries(db(), { limit: 10, action: 'experiment.create' });
    expect(entries.map((e) => [e.actor, e.auth, e.target])).toEqual([['operator1', 'session', 'api-exp']]);
    expect(entries[0]!.details).toMatchObject({ key: 'api-exp', variants: 'heuristics:50,model:50', rows: 'for_your_usual' });
    expect((await listAuditEntries(db(), { limit: 10, action: 'experiment.stop' })).map((e) => [e.actor, e.target])).toEqual([['operator1', 'api-exp']]);
  });

  it('CLI: create; bad input exits 2 with the reason', async () => {
    const created = await cli('experiments', 'create', 'cli-exp', '--variants', 'heuristics:50,model_ignore_aware:50', '--rows', 'something_new', '--start', '2060-01-01T00:00:00Z', '--end', '2060-03-01T00:00:00Z', '--description', 'ignore-aware');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe('created experiment cli-exp (scheduled): heuristics:50,model_ignore_aware:50 on something_new from 2060-01-01 00:00:00 to 2060-03-01 00:00:00\n');

    const badWeights = await cli('experiments', 'create', 'cli-bad', '--variants', 'heuristics:50,model:60');
    expect(badWeights.code).toBe(2);
    expect(badWeights.stderr).toBe('error: variants: the weights must sum to 100, not 110 (heuristics:50,model:60)\n');
    const badSyntax = await cli('experiments', 'create', 'cli-bad', '--variants', 'heuristics,model');
    expect(badSyntax.code).toBe(2);
    expect(badSyntax.stderr).toBe('error: variants: "heuristics" is not KEY:WEIGHT (e.g. model:50)\n');
    const badDate = await cli('experiments', 'create', 'cli-bad', '--variants', 'heuristics:50,model:50', '--start', 'tomorrow');
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toMatch(/"tomorrow" is not an ISO 8601 date/);
    const conflict = await cli('experiments', 'create', 'cli-exp2', '--variants', 'heuristics:50,model:50', '--rows', 'something_new,ranked', '--start', '2060-02-01T00:00:00Z');
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toMatch(/^error: experiment "cli-exp" already ranks something_new in an overlapping time span/);
    expect((await cli('experiments', 'create', 'cli-bad')).code).toBe(2);
  }, 180_000);

  it('CLI: list, show (--json: the report), stop; refusals exit 2; writes are audited as cli:<user>', async () => {
    const list = await cli('experiments', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^key\s+status\s+variants\s+rows\s+start\s+end\s+stopped$/);
    expect(list.stdout).toMatch(/cli-exp\s+scheduled\s+heuristics:50,model_ignore_aware:50\s+something_new\s+2060-01-01 00:00:00\s+2060-03-01 00:00:00/);
    const listJson = JSON.parse((await cli('experiments', 'list', '--json')).stdout) as { experiments: { key: string; status: string }[] };
    expect(listJson.experiments[0]).toMatchObject({ key: 'cli-exp', status: 'scheduled' });

    const show = await cli('experiments', 'show', 'cli-exp', '--json', '--at', '2060-01-10T00:00:00Z');
    expect(show.code, show.stderr).toBe(0);
    const report = JSON.parse(show.stdout) as Record<string, unknown>;
    expect(Object.keys(report).sort()).toEqual(['endAt', 'guardrails', 'key', 'lift', 'rows', 'srmFlagged', 'srmPValue', 'startAt', 'status', 'stoppedAt', 'variants']);
    expect(report).toMatchObject({ key: 'cli-exp', status: 'running', rows: ['something_new'], srmPValue: null, srmFlagged: false });
    expect((report.variants as Record<string, unknown>[])[1]).toEqual({
      key: 'model_ignore_aware', weight: 50, members: 0, exposed: 0, converted: 0, takeRate: null, impressions: 0, clicks: 0, conversions: 0, conversionsPerImpression: null, repeatIgnoredRate: null,
    });
    const human = await cli('experiments', 'show', 'cli-exp');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^experiment\s+cli-exp\nstatus\s+scheduled\n/);
    expect(human.stdout).toMatch(/variant\s+weight\s+members\s+exposed\s+converted\s+take rate\s+impressions\s+clicks\s+conversions\s+conv\/impr\s+repeat-ignored/);
    expect(human.stdout).toMatch(/lift over heuristics \(relative, 95% interval, two-sided p\)\nvariant\s+metric\s+lift\s+95% interval\s+p/);
    expect(human.stdout).toMatch(/model_ignore_aware\s+takeRate\s+-\s+-\s+-/);
    expect(human.stdout).toContain('guardrail: workouts per exposed member');
    const missing = await cli('experiments', 'show', 'nope');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('error: no experiment "nope"\n');

    const stop = await cli('experiments', 'stop', 'cli-exp', '--json');
    expect(stop.code, stop.stderr).toBe(0);
    expect(JSON.parse(stop.stdout)).toMatchObject({ key: 'cli-exp', status: 'stopped', stoppedBy: `cli:${os.userInfo().username}` });
    const again = await cli('experiments', 'stop', 'cli-exp');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^error: experiment "cli-exp" was already stopped at /);

    const actor = `cli:${os.userInfo().username}`;
    expect((await listAuditEntries(db(), { limit: 5, action: 'experiment.create', actor })).map((e) => [e.auth, e.target])).toEqual([['cli', 'cli-exp']]);
    expect((await listAuditEntries(db(), { limit: 5, action: 'experiment.stop', actor })).map((e) => [e.auth, e.target])).toEqual([['cli', 'cli-exp']]);
  }, 180_000);
});
