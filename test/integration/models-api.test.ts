import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../core/db/queries/audit-log.ts';
import type { ModelVersionRow } from '../../core/db/schema/model-version.ts';
import { registerModel, requireModel } from '../../model/registry.ts';
import { json, SessionClient, tokenRequest, WebFixture } from './web-support.ts';

const METRICS = {
  ranker: { 'ndcg@10': 0.41, 'recall@10': 0.62 },
  heuristics: { 'ndcg@10': 0.3, 'recall@10': 0.5 },
  popularity: { 'ndcg@10': 0.2, 'recall@10': 0.33 },
  baseline: { 'ndcg@10': 0.35, 'recall@10': 0.55 },
};

type Model = Omit<ModelVersionRow, 'createdAt' | 'finishedAt' | 'promotedAt'> & { createdAt: string; promotedAt: string | null };

describe('REST API: /api/v1/models', () => {
  let web: WebFixture;
  let good: ModelVersionRow;
  let other: ModelVersionRow;
  let failed: ModelVersionRow;

  beforeAll(async () => {
    web = await WebFixture.start({ scheduler: false, workers: {} });
    const db = web.harness.db;
    const trained = { status: 'succeeded' as const, backend: 'wasm', params: { epochs: 4 }, dataLocation: 'artifacts/x', rowCounts: { train: 1000 }, metrics: METRICS, durationMs: 9000, artifactPath: 'artifacts/models/a' };
    good = await registerModel(db, trained);
    other = await registerModel(db, trained);
    failed = await registerModel(db, { backend: 'cpu', status: 'failed', error: 'NaN loss' });
    for (let i = 0; i < 9; i += 1) await registerModel(db, { backend: 'cpu', status: 'succeeded', metrics: METRICS });
  });
  afterAll(async () => {
    await web?.close();
  });

  it('reads need a viewer: anonymous 401; the list is newest first with every field', async () => {
    expect((await tokenRequest(web.api, 'GET', '/models', null)).status).toBe(401);
    expect((await tokenRequest(web.api, 'GET', `/models/${good.version}`, null)).status).toBe(401);
    const res = await tokenRequest(web.api, 'GET', '/models', web.users.viewer.token);
    expect(res.status).toBe(200);
    const body = await json<{ models: Model[]; nextCursor: string | null }>(res);
    expect(body.models).toHaveLength(12);
    expect(body.nextCursor).toBeNull();
    expect(body.models.at(-1)).toMatchObject({ version: good.version, stage: 'candidate', status: 'succeeded', backend: 'wasm', metrics: METRICS, params: { epochs: 4 }, rowCounts: { train: 1000 }, durationMs: 9000, artifactPath: 'artifacts/models/a', dataLocation: 'artifacts/x' });
    const one = await json<Model>(await tokenRequest(web.api, 'GET', `/models/${failed.version}`, web.users.viewer.token));
    expect(one).toMatchObject({ version: failed.version, stage: 'failed', status: 'failed', error: 'NaN loss' });
  });

  it('pages by keyset cursor and filters by stage; bad input is a 400 with a reason; unknown version 404', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/models?limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page: { models: Model[]; nextCursor: string | null } = await json(await tokenRequest(web.api, 'GET', q, web.users.viewer.token));
      seen.push(...page.models.map((m) => m.version));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(12);
    const failedOnly = await json<{ models: Model[] }>(await tokenRequest(web.api, 'GET', '/models?stage=failed', web.users.viewer.token));
    expect(failedOnly.models.map((m) => m.version)).toEqual([failed.version]);

    for (const [path, reason] of [
      ['/models?limit=abc', /^query: limit/],
      ['/models?limit=0', /^query: limit/],
      ['/models?stage=live', /^query: stage/],
      ['/models?cursor=nope', /^cursor: not a model version/],
      ['/models?color=red', /^query: /],
    ] as const) {
      const res = await tokenRequest(web.api, 'GET', path, web.users.viewer.token);
      expect(res.status, path).toBe(400);
      expect((await json<{ error: string }>(res)).error, path).toMatch(reason);
    }
    const missing = await tokenRequest(web.api, 'GET', '/models/ranker-1999-01-01-001', web.users.viewer.token);
    expect(missing.status).toBe(404);
    expect((await json<{ error: string }>(missing)).error).toBe('no model version "ranker-1999-01-01-001"');
  });

  it('promote: anonymous 401, viewer 403 (token and session), session without CSRF 403; nothing changes', async () => {
    const path = `/models/${good.version}/promote`;
    expect((await tokenRequest(web.api, 'POST', path, null, {})).status).toBe(401);
    const viewer = await tokenRequest(web.api, 'POST', path, web.users.viewer.token, {});
    expect(viewer.status).toBe(403);
    expect((await json<{ error: string }>(viewer)).error).toMatch(/needs the operator role/);
    const viewerSession = await SessionClient.login(web.api, web.users.viewer.username);
    expect((await viewerSession.request('POST', path, {})).status).toBe(403);
    const operatorSession = await SessionClient.login(web.api, web.users.operator.username);
    const noCsrf = await operatorSession.request('POST', path, {}, { csrf: false });
    expect(noCsrf.status).toBe(403);
    expect((await json<{ error: string }>(noCsrf)).error).toMatch(/CSRF/);
    expect((await requireModel(web.harness.db, good.version)).stage).toBe('candidate');
    expect(await listAuditEntries(web.harness.db, { limit: 10, action: 'model.promote' })).toEqual([]);
  });

  it('an operator promotes (session with CSRF, then a token); the previous one is archived; each promotion is audited', async () => {
    const operator = await SessionClient.login(web.api, web.users.operator.username);
    const first = await operator.request('POST', `/models/${good.version}/promote`);
    expect(first.status).toBe(200);
    const body = await json<{ version: string; previous: string | null; promotedBy: string; model: Model }>(first);
    expect(body).toMatchObject({ version: good.version, previous: null, promotedBy: 'operator1', model: { stage: 'production', promotedBy: 'operator1' } });

    const second = await tokenRequest(web.api, 'POST', `/models/${other.version}/promote`, web.users.admin.token);
    expect(second.status).toBe(200);
    expect((await json<{ previous: string }>(second)).previous).toBe(good.version);
    expect((await requireModel(web.harness.db, good.version)).stage).toBe('archived');
    const production = await json<{ models: Model[] }>(await tokenRequest(web.api, 'GET', '/models?stage=production', web.users.viewer.token));
    expect(production.models.map((m) => m.version)).toEqual([other.version]);

    const entries = await listAuditEntries(web.harness.db, { limit: 10, action: 'model.promote' });
    expect(entries.map((e) => [e.actor, e.auth, e.target, e.details])).toEqual([
      ['admin1', 'token', other.version, { version: other.version, modelName: 'daily_picks_ranker', previous: good.version }],
      ['operator1', 'session', good.version, { version: good.version, modelName: 'daily_picks_ranker', previous: null }],
    ]);
  });

  it('promoting a failed, already-production or unknown version is refused with the reason', async () => {
    const f = await tokenRequest(web.api, 'POST', `/models/${failed.version}/promote`, web.users.operator.token, {});
    expect(f.status).toBe(409);
    expect((await json<{ error: string }>(f)).error).toBe(`only a succeeded model can be promoted: ${failed.version} is failed`);
    const again = await tokenRequest(web.api, 'POST', `/models/${other.version}/promote`, web.users.operator.token, {});
    expect(again.status).toBe(409);
    expect((await json<{ error: string }>(again)).error).toMatch(/already in production/);
    expect((await tokenRequest(web.api, 'POST', '/models/ranker-1999-01-01-001/promote', web.users.operator.token, {})).status).toBe(404);
    expect((await tokenRequest(web.api, 'POST', `/models/${good.version}/promote`, web.users.operator.token, { force: true })).status).toBe(400);
    expect((await requireModel(web.harness.db, failed.version)).stage).toBe('failed');
  });
});
