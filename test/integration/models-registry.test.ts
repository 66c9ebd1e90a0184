import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../core/db/queries/audit-log.ts';
import { insertAuditEntry } from '../../core/db/queries/audit-log.ts';
import { finishModel, listModels, ModelRegistryError, productionModel, promoteModel, registerModel, requireModel } from '../../model/registry.ts';
import { useTestDatabase } from '../support/database.ts';

const METRICS = {
  ranker: { 'ndcg@10': 0.41, 'recall@10': 0.62 },
  heuristics: { 'ndcg@10': 0.3, 'recall@10': 0.5 },
  popularity: { 'ndcg@10': 0.2, 'recall@10': 0.33 },
  baseline: { 'ndcg@10': 0.35, 'recall@10': 0.55 },
};

async function refused(work: Promise<unknown>): Promise<ModelRegistryError> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(ModelRegistryError);
    return error as ModelRegistryError;
  }
  throw new Error('expected a refusal');
}

describe('model registry: registerModel, finishModel, promoteModel, listModels', () => {
  const connection = useTestDatabase();

  const succeeded = (extra: Record<string, unknown> = {}) =>
    registerModel(connection.db, {
      status: 'succeeded',
      backend: 'wasm',
      params: { epochs: 3, embeddingDim: 32, learningRate: 0.01 },
      dataLocation: 'artifacts/daily_picks/2026-11-28/train.parquet',
      rowCounts: { members: 500, classes: 120, train: 40_000, validation: 4000 },
      metrics: METRICS,
      durationMs: 12_345,
      artifactPath: 'artifacts/models/ranker',
      ...extra,
    });

  it('records every field and numbers versions per day: ranker-YYYY-MM-DD-001, -002, …', async () => {
    const day = new Date('2026-11-28T10:00:00Z');
    const a = await registerModel(connection.db, { backend: 'cpu', dagId: 'daily_picks', runId: 'manual__1' }, day);
    const b = await registerModel(connection.db, { backend: 'cpu' }, day);
    const c = await registerModel(connection.db, { backend: 'cpu' }, new Date('2026-11-29T00:00:01Z'));
    expect([a.version, b.version, c.version]).toEqual(['ranker-2026-11-28-001', 'ranker-2026-11-28-002', 'ranker-2026-11-29-001']);
    expect(a).toMatchObject({ modelName: 'daily_picks_ranker', stage: 'candidate', status: 'running', backend: 'cpu', dagId: 'daily_picks', runId: 'manual__1', finishedAt: null, metrics: {}, params: {} });

    const full = await succeeded();
    const read = await requireModel(connection.db, full.version);
    expect(read).toMatchObject({
      stage: 'candidate',
      status: 'succeeded',
      backend: 'wasm',
      params: { epochs: 3, embeddingDim: 32, learningRate: 0.01 },
      dataLocation: 'artifacts/daily_picks/2026-11-28/train.parquet',
      rowCounts: { members: 500, classes: 120, train: 40_000, validation: 4000 },
      metrics: METRICS,
      durationMs: 12_345,
      artifactPath: 'artifacts/models/ranker',
    });
    expect(read.finishedAt).toBeInstanceOf(Date);
  });

  it('concurrent registrations get distinct versions', async () => {
    const day = new Date('2026-12-01T12:00:00Z');
    const rows = await Promise.all(Array.from({ length: 8 }, () => registerModel(connection.db, { backend: 'cpu', versionPrefix: 'race' }, day)));
    expect(new Set(rows.map((r) => r.version)).size).toBe(8);
    expect(rows.map((r) => r.version).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `race-2026-12-01-${String(i + 1).padStart(3, '0')}`));
  });

  it('rejects bad input with a 400 reason', async () => {
    expect((await refused(registerModel(connection.db, { backend: '' }))).status).toBe(400);
    const nan = await refused(registerModel(connection.db, { backend: 'cpu', metrics: { ranker: { 'ndcg@10': Number.NaN } } }));
    expect(nan.message).toMatch(/metrics\.ranker\.ndcg@10/);
    expect((await refused(registerModel(connection.db, { backend: 'cpu', rowCounts: { train: -1 } }))).status).toBe(400);
  });

  it('finishModel ends a running version once: succeeded stays a candidate, failed becomes stage failed', async () => {
    const ok = await registerModel(connection.db, { backend: 'wasm' });
    const done = await finishModel(connection.db, ok.version, { status: 'succeeded', metrics: METRICS, durationMs: 500, artifactPath: '/a/b' });
    expect(done).toMatchObject({ stage: 'candidate', status: 'succeeded', metrics: METRICS, durationMs: 500, artifactPath: '/a/b' });
    expect((await refused(finishModel(connection.db, ok.version, { status: 'failed' }))).status).toBe(409);

    const bad = await registerModel(connection.db, { backend: 'wasm' });
    expect(await finishModel(connection.db, bad.version, { status: 'failed', error: 'NaN loss at epoch 2' })).toMatchObject({ stage: 'failed', status: 'failed', error: 'NaN loss at epoch 2' });
    expect((await refused(finishModel(connection.db, 'ranker-1999-01-01-001', { status: 'succeeded' }))).status).toBe(404);
  });

  it('promote: one production model; the previous one is archived; audited in the same transaction', async () => {
    const first = await succeeded({ modelName: 'promo_model' });
    const second = await succeeded({ modelName: 'promo_model' });
    const audit = (tx: Parameters<typeof insertAuditEntry>[0], outcome: Record<string, unknown>) =>
      insertAuditEntry(tx, { actor: 'tester', userId: null, auth: 'cli', action: 'model.promote', target: 'x', details: outcome as never });

    const p1 = await promoteModel(connection.db, first.version, { by: 'alice', audit });
    expect(p1).toMatchObject({ version: first.version, previous: null, promotedBy: 'alice', modelName: 'promo_model' });
    expect((await productionModel(connection.db, 'promo_model'))?.version).toBe(first.version);

    const p2 = await promoteModel(connection.db, second.version, { by: 'bob', audit });
    expect(p2.previous).toBe(first.version);
    expect((await requireModel(connection.db, first.version)).stage).toBe('archived');
    expect(await requireModel(connection.db, second.version)).toMatchObject({ stage: 'production', promotedBy: 'bob' });

    // Rolling back: an archived, succeeded version can be promoted again.
    const p3 = await promoteModel(connection.db, first.version, { by: 'carol', audit });
    expect(p3.previous).toBe(second.version);
    const production = await connection.db.execute<{ n: number }>(sql`select count(*)::int as n from model_version where model_name = 'promo_model' and stage = 'production'`);
    expect(production.rows[0]!.n).toBe(1);

    const entries = (await listAuditEntries(connection.db, { limit: 10, action: 'model.promote' })).map((e) => e.details);
    expect(entries).toEqual([
      { version: first.version, modelName: 'promo_model', previous: second.version },
      { version: second.version, modelName: 'promo_model', previous: first.version },
      { version: first.version, modelName: 'promo_model', previous: null },
    ]);
  });

  it('refuses to promote a failed, running, unknown or already-production version, and changes nothing', async () => {
    const failed = await registerModel(connection.db, { backend: 'cpu', status: 'failed', error: 'out of memory', modelName: 'refusals' });
    const running = await registerModel(connection.db, { backend: 'cpu', modelName: 'refusals' });
    const live = await succeeded({ modelName: 'refusals' });
    await promoteModel(connection.db, live.version, { by: 'x' });

    const f = await refused(promoteModel(connection.db, failed.version, { by: 'x' }));
    expect([f.status, f.message]).toEqual([409, `only a succeeded model can be promoted: ${failed.version} is failed`]);
    const r = await refused(promoteModel(connection.db, running.version, { by: 'x' }));
    expect([r.status, r.message]).toEqual([409, `only a succeeded model can be promoted: ${running.version} is still training`]);
    expect((await refused(promoteModel(connection.db, live.version, { by: 'x' }))).status).toBe(409);
    expect((await refused(promoteModel(connection.db, 'nope', { by: 'x' }))).status).toBe(404);
    expect((await productionModel(connection.db, 'refusals'))?.version).toBe(live.version);
    expect((await requireModel(connection.db, failed.version)).stage).toBe('failed');
  });

  it('the database itself refuses a second production row or a production model that did not succeed', async () => {
    const a = await succeeded({ modelName: 'guarded' });
    const b = await succeeded({ modelName: 'guarded' });
    await promoteModel(connection.db, a.version, { by: 'x' });
    await expect(connection.db.execute(sql`update model_version set stage = 'production' where version = ${b.version}`)).rejects.toThrow();
    const c = await registerModel(connection.db, { backend: 'cpu', modelName: 'guarded2' });
    await expect(connection.db.execute(sql`update model_version set stage = 'production' where version = ${c.version}`)).rejects.toThrow();
  });

  it('concurrent promotions of the same model leave exactly one in production, the others archived', async () => {
    const rows = await Promise.all(Array.from({ length: 6 }, () => succeeded({ modelName: 'racing' })));
    const results = await Promise.all(rows.map((row) => promoteModel(connection.db, row.version, { by: 'x' })));
    const stages = await connection.db.execute<{ stage: string; n: number }>(sql`select stage, count(*)::int as n from model_version where model_name = 'racing' group by stage order by stage`);
    expect(stages.rows).toEqual([
      { stage: 'archived', n: 5 },
      { stage: 'production', n: 1 },
    ]);
    // Each promotion archived the one before it: a chain with one start (null).
    expect(results.filter((r) => r.previous === null)).toHaveLength(1);
    expect(new Set(results.map((r) => r.previous)).size).toBe(6);
  });

  it('lists newest first in keyset pages, with a stage filter; an unknown cursor is a 400', async () => {
    for (let i = 0; i < 7; i += 1) await succeeded({ modelName: 'paged', versionPrefix: 'paged' });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await listModels(connection.db, { limit: 3, modelName: 'paged', ...(cursor ? { before: cursor } : {}) });
      seen.push(...page.models.map((m) => m.version));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toHaveLength(7);
    expect(seen).toEqual([...seen].sort().reverse());
    const all = await listModels(connection.db, { limit: 500 });
    const times = all.models.map((m) => m.createdAt.getTime());
    expect(times).toEqual([...times].sort((x, y) => y - x));
    const failedOnly = await listModels(connection.db, { limit: 500, stage: 'failed' });
    expect(failedOnly.models.length).toBeGreaterThan(0);
    expect(failedOnly.models.every((m) => m.stage === 'failed')).toBe(true);
    expect((await refused(listModels(connection.db, { limit: 3, before: 'no-such-version' }))).status).toBe(400);
  });
});
