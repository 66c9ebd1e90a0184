import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlywheel } from '../support/cli.ts';
import { listAuditEntries } from '../../core/db/queries/audit-log.ts';
import type { ModelVersionRow } from '../../core/db/schema/model-version.ts';
import { registerModel, requireModel } from '../../model/registry.ts';
import { Harness } from '../support/harness.ts';

const METRICS = {
  ranker: { 'ndcg@10': 0.4123, 'recall@10': 0.612 },
  heuristics: { 'ndcg@10': 0.3011, 'recall@10': 0.5004 },
  popularity: { 'ndcg@10': 0.2, 'recall@10': 0.33 },
  baseline: { 'ndcg@10': 0.35, 'recall@10': 0.55 },
};

/** `flywheel models list|show|promote` as real child processes against the harness's database. */
describe('models CLI', () => {
  let harness: Harness;
  let a: ModelVersionRow;
  let b: ModelVersionRow;
  let failed: ModelVersionRow;
  const cli = (...args: string[]) => runFlywheel(args, { env: harness.childEnv(), timeoutMs: 30_000 });

  beforeAll(async () => {
    harness = await Harness.start({ scheduler: false, workers: {} });
    const trained = { status: 'succeeded' as const, backend: 'wasm', params: { epochs: 4, embeddingDim: 32 }, dataLocation: 'artifacts/daily_picks/x', rowCounts: { members: 50, train: 1000 }, metrics: METRICS, durationMs: 65_000, artifactPath: 'artifacts/models/a' };
    a = await registerModel(harness.db, trained);
    b = await registerModel(harness.db, { ...trained, backend: 'tensorflow' });
    failed = await registerModel(harness.db, { backend: 'cpu', status: 'failed', error: 'NaN loss' });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('list shows version, stage, backend and metrics; --json gives the rows', async () => {
    const human = await cli('models', 'list');
    expect(human.code, human.stderr).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^version\s+stage\s+status\s+backend\s+created\s+metrics \(ndcg@10\/recall@10\)$/);
    expect(lines.slice(2).map((l) => l.split(/\s+/)[0])).toEqual([failed.version, b.version, a.version]);
    expect(lines.at(-1)).toContain('ranker 0.4123/0.6120  heuristics 0.3011/0.5004  popularity 0.2000/0.3300  baseline 0.3500/0.5500');
    expect(lines.at(-1)).toMatch(/candidate\s+succeeded\s+wasm/);

    const json = await cli('models', 'list', '--json');
    expect(json.code, json.stderr).toBe(0);
    const body = JSON.parse(json.stdout) as { models: { version: string; stage: string; backend: string; metrics: unknown }[] };
    expect(body.models.map((m) => [m.version, m.stage, m.backend])).toEqual([
      [failed.version, 'failed', 'cpu'],
      [b.version, 'candidate', 'tensorflow'],
      [a.version, 'candidate', 'wasm'],
    ]);
    expect(body.models[2]!.metrics).toEqual(METRICS);

    const onlyFailed = JSON.parse((await cli('models', 'list', '--stage', 'failed', '--json')).stdout) as { models: { version: string }[] };
    expect(onlyFailed.models.map((m) => m.version)).toEqual([failed.version]);
    const badStage = await cli('models', 'list', '--stage', 'live');
    expect(badStage.code).not.toBe(0);
    expect(badStage.stderr).toMatch(/must be one of candidate, production, archived, failed/);
  });

  it('show prints every field; --json the row; an unknown version exits 2', async () => {
    const human = await cli('models', 'show', a.version);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`version        ${a.version}`);
    expect(human.stdout).toContain('backend        wasm');
    expect(human.stdout).toContain('duration       1 min 5 s');
    expect(human.stdout).toContain('data           artifacts/daily_picks/x');
    expect(human.stdout).toContain('artifact       artifacts/models/a');
    expect(human.stdout).toMatch(/candidate\s+ndcg@10\s+recall@10/);
    expect(human.stdout).toMatch(/ranker\s+0\.4123\s+0\.6120/);
    expect(human.stdout).toMatch(/embeddingDim\s+32/);
    const json = JSON.parse((await cli('models', 'show', a.version, '--json')).stdout) as { version: string; rowCounts: unknown };
    expect(json).toMatchObject({ version: a.version, rowCounts: { members: 50, train: 1000 } });
    const missing = await cli('models', 'show', 'ranker-1999-01-01-001');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('error: no model version "ranker-1999-01-01-001"\n');
  });

  it('promote puts a version into production, archives the previous one, and is audited as cli:<user>; refusals exit 2', async () => {
    const first = await cli('models', 'promote', a.version);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(`promoted ${a.version} to production\n`);
    const second = await cli('models', 'promote', b.version, '--json');
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ version: b.version, previous: a.version, promotedBy: `cli:${os.userInfo().username}` });
    expect((await requireModel(harness.db, a.version)).stage).toBe('archived');
    expect((await requireModel(harness.db, b.version)).stage).toBe('production');

    const refused = await cli('models', 'promote', failed.version);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(`error: only a succeeded model can be promoted: ${failed.version} is failed\n`);
    expect((await cli('models', 'promote', 'ranker-1999-01-01-001')).code).toBe(2);

    const entries = await listAuditEntries(harness.db, { limit: 10, action: 'model.promote' });
    expect(entries.map((e) => [e.actor, e.auth, e.target, e.details])).toEqual([
      [`cli:${os.userInfo().username}`, 'cli', b.version, { version: b.version, modelName: 'daily_picks_ranker', previous: a.version }],
      [`cli:${os.userInfo().username}`, 'cli', a.version, { version: a.version, modelName: 'daily_picks_ranker', previous: null }],
    ]);
  });
});
