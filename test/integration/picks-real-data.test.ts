/**
 * Daily Picks on real-shaped data (test/support/real-shaped.ts): items with titles and
 * `|`-separated categories but no durations or creators, sparse interactions over three years
 * that ended two years ago, imported with the real import functions and run out of the box
 * (as of now) through the scheduler and sandboxed workers:
 * 1. import → run → rows: every member has picks, no row that needs durations, reasons name
 *    single categories, the holdout is each member's latest interactions (the last days hold
 *    nothing), and each member is served by the candidate the version's plan gives their segment;
 * 2. a `--replace` import with new item ids: the production model's catalogue no longer matches,
 *    so it is not used, and the new version is promoted in its place;
 * 3. as-of independence: the same interactions moved by whole years give the same heuristic rows,
 *    and so does a run as of just after the data's last interaction.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainResult } from '../../daily-picks/ranker/train-step.ts';
import { importInteractions, importItems } from '../../daily-picks/source/import-csv.ts';
import { DAY_MS } from '../../model/data/time.ts';
import { asServingPlan, SEGMENTS, segmentOf, type Segment, type ServingCandidate, type ServingPlan } from '../../model/serving-plan.ts';
import { REAL_MODEL } from '../fixtures/dags-real/_options.ts';
import { Harness } from '../support/harness.ts';
import { PicksWorld } from '../support/picks.ts';
import {
  dataDayEnd,
  REAL_CATEGORIES,
  REAL_INTERACTIONS_COLUMNS,
  REAL_ITEMS_COLUMNS,
  realShapedData,
  transformed,
  writeRealShapedCsv,
  type RealShapedData,
} from '../support/real-shaped.ts';

const REAL_DAGS = fileURLToPath(new URL('../fixtures/dags-real', import.meta.url));
const TODAY = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const YEAR = 365;

type ServingRecord = ServingPlan & {
  holdout: { kind: string; members: number; reason: string };
  production: { version: string; ndcg: number | null; unusable: string | null } | null;
  gate: { promote: boolean; reason: string };
};
type VersionRow = { version: string; stage: string; status: string; serving: ServingRecord | null };
type PickRow = { member_id: string; row: string; position: number; class_id: string; reason: string; model_version: string; run_id: string };

/** One harness (own database, queues and artifacts) with the real-data fixture DAGs, and helpers over it. */
function realWorld() {
  const env = {} as { harness: Harness; world: PicksWorld; dir: string };
  beforeAll(async () => {
    env.harness = await Harness.start({ dagsFolder: REAL_DAGS, workers: { default: 2, gpu: 1 } });
    env.world = await PicksWorld.create({ databaseUrl: env.harness.config.databaseUrl, prefix: env.harness.config.queuePrefix });
    env.dir = await mkdtemp(path.join(os.tmpdir(), 'flywheel-real-'));
  });
  afterAll(async () => {
    await env.world?.close();
    await env.harness?.close();
    if (env.dir) await rm(env.dir, { recursive: true, force: true });
  });

  /** Imports items then interactions, as a user does, with the real import functions. */
  async function load(name: string, data: RealShapedData, replace: boolean) {
    const files = await writeRealShapedCsv(env.dir, name, data);
    const items = await importItems(env.world.pool, { file: files.itemsFile, ...REAL_ITEMS_COLUMNS, replace });
    const interactions = await importInteractions(env.world.pool, { file: files.interactionsFile, ...REAL_INTERACTIONS_COLUMNS, replace });
    expect(items).toMatchObject({ rows: data.items.length, duplicateIds: 0 });
    expect(interactions).toMatchObject({ rows: data.interactions.length, workouts: data.interactions.length });
    return { items, interactions };
  }

  async function run(dagId: string, logicalDate?: Date) {
    const triggered = await env.harness.trigger(dagId, logicalDate ? { logicalDate } : {});
    const finished = await env.harness.waitForRun(triggered.dagRunId, { timeoutMs: 150_000 });
    const instances = await env.harness.taskInstances(triggered.dagRunId);
    const output = <T>(taskId: string) => instances.find((t) => t.taskId === taskId)!.output as T;
    const log = async (taskId: string) => (await env.harness.logs(triggered.dagRunId, taskId, 1)).map((l) => l.message).join('\n');
    const states = await env.harness.taskStates(triggered.dagRunId);
    if (finished.state !== 'success') {
      const failed = Object.entries(states).filter(([, s]) => s !== 'success').map(([t]) => t);
      const logs = await Promise.all(failed.map(async (t) => `--- ${t} (${states[t]})\n${await log(t).catch(() => '')}`));
      throw new Error(`run ${triggered.runId} of ${dagId} is ${finished.state}:\n${logs.join('\n')}`);
    }
    return { runId: triggered.runId, finished, states, output, log };
  }

  /** Every published pick, in a stable order. */
  const picks = () => env.world.query<PickRow>('select member_id, row, position, class_id, reason, model_version, run_id from picks order by member_id, row, position');

  return { env, load, run, picks };
}

/** The data's last interaction (epoch ms). */
const lastAt = (data: RealShapedData) => Math.max(...data.interactions.map((x) => x.time)) * 1000;

/** The model version a member's picks carry when candidate `c` of version `version`'s plan serves them. */
function publishedVersionOf(c: ServingCandidate, version: string): string {
  switch (c) {
    case 'ranker':
      return version;
    case 'ease':
      return `${version}/ease`;
    case 'baseline':
      return `${version}/item_knn`;
    case 'heuristics':
    case 'popularity':
      return c;
  }
}

/** Each member's segment as of the data's clock (the end of the last interaction's day), from the generated data. */
function segmentsOf(data: RealShapedData, plan: ServingPlan): Map<string, Segment> {
  const clock = dataDayEnd(data);
  const byMember = new Map<string, { n: number; last: number }>();
  for (const x of data.interactions) {
    const m = byMember.get(x.user) ?? { n: 0, last: Number.NEGATIVE_INFINITY };
    m.n += 1;
    m.last = Math.max(m.last, x.time * 1000);
    byMember.set(x.user, m);
  }
  return new Map([...byMember].map(([member, m]) => [member, segmentOf(m.n, m.last, clock, plan.rules)]));
}

describe('Daily Picks on real-shaped data: import, run out of the box, replace the catalogue', { timeout: 400_000 }, () => {
  const { env, load, run, picks } = realWorld();
  // ~3 years of sparse interactions that ended ~2 years before today.
  const data = realShapedData({ seed: 11, end: new Date(TODAY - 2 * YEAR * DAY_MS) });
  const members = [...new Set(data.interactions.map((x) => x.user))].sort();
  let promoted: string;

  const versions = () => env.world.query<VersionRow>('select version, stage, status, serving from model_version where model_name = $1 order by created_at', [REAL_MODEL]);

  /** Each member's published model version: one per member, every member of the data, all from `runId`. */
  async function publishedVersions(runId: string): Promise<Map<string, string>> {
    const rows = await env.world.query<{ member_id: string; versions: string[]; runs: string[] }>(
      'select member_id, array_agg(distinct model_version) as versions, array_agg(distinct run_id) as runs from picks group by member_id order by member_id',
    );
    expect(rows.map((r) => r.member_id).sort()).toEqual(members);
    for (const r of rows) {
      expect(r.versions, r.member_id).toHaveLength(1);
      expect(r.runs).toEqual([runId]);
    }
    return new Map(rows.map((r) => [r.member_id, r.versions[0]!]));
  }

  /** Every member is served by the candidate the plan gives their segment (the version, its EASE / ItemKNN, or the heuristics). */
  async function expectServedByPlan(runId: string, version: string, plan: ServingPlan) {
    const published = await publishedVersions(runId);
    const segments = segmentsOf(data, plan);
    const allowed = new Set([version, `${version}/ease`, `${version}/item_knn`, 'heuristics', 'popularity']);
    for (const member of members) {
      const got = published.get(member)!;
      expect(allowed, member).toContain(got);
      expect(got, `${member} (${segments.get(member)})`).toBe(publishedVersionOf(plan.segments[segments.get(member)!], version));
    }
  }

  it('imports the CSV files, runs to success and publishes rows for every member, served as the version’s plan says', async () => {
    const imported = await load('original', data, false);
    expect(imported.items).toMatchObject({ classesAdded: data.items.length, instructorsAdded: 0 });
    expect(imported.interactions).toMatchObject({ membersAdded: members.length, placeholderClasses: 0 });
    expect(Date.parse(imported.interactions.lastAt!)).toBeLessThan(TODAY - 2 * YEAR * DAY_MS);
    // Categories are stored as imported (`Comedy|Romance`); the catalogue splits them.
    const [multi] = await env.world.query<{ n: number }>(`select count(*)::int as n from source.class where discipline like '%|%'`);
    expect(multi!.n).toBeGreaterThan(10);

    const r = await run('real_picks');
    for (const taskId of ['extract', 'heuristics', 'train', 'rank_shard_0', 'rank_shard_1', 'rank', 'select_ranking', 'filter_rows', 'publish']) expect(r.states[taskId], taskId).toBe('success');
    const train = r.output<TrainResult>('train');
    promoted = train.trained.version;

    // The rows: every member, no quick_workout (no item has a duration, and the log says so),
    // reasons that name one category, never `Comedy|Romance`.
    const rows = await picks();
    expect(new Set(rows.map((p) => p.member_id))).toEqual(new Set(members));
    expect(rows.filter((p) => p.row === 'quick_workout')).toEqual([]);
    expect(new Set(rows.map((p) => p.row))).toEqual(new Set(['for_your_usual', 'something_new', 'ranked']));
    expect(await r.log('filter_rows')).toMatch(/quick_workout[^\n]*duration/);
    expect(rows.filter((p) => p.reason.includes('|')).map((p) => p.reason)).toEqual([]);
    const named = rows.filter((p) => REAL_CATEGORIES.some((c) => p.reason.endsWith(` ${c}`)));
    expect(named.length).toBeGreaterThan(rows.length / 2);
    expect(new Set(rows.map((p) => p.class_id)).size).toBeGreaterThan(50);

    // The registry: the holdout is each member's latest interactions (the last days before now hold nothing), with its reason in the log.
    const row = (await versions()).find((v) => v.version === promoted)!;
    expect(row).toMatchObject({ stage: 'production', status: 'succeeded' });
    const serving = row.serving!;
    expect(serving.holdout).toMatchObject({ kind: 'latest', members: expect.any(Number), reason: expect.stringMatching(/latest interactions/) });
    expect(serving.holdout.members).toBeGreaterThan(0);
    expect(serving.holdout.members).toBeLessThanOrEqual(members.length);
    expect(await r.log('train')).toContain(`holdout: ${serving.holdout.reason}`);
    const plan = asServingPlan(serving)!;
    expect(plan).not.toBeNull();
    expect(Object.keys(plan.segments).sort()).toEqual([...SEGMENTS].sort());
    expect(serving.production).toBeNull();
    expect(serving.gate).toMatchObject({ promote: true, reason: expect.stringMatching(/no model in production/) });
    expect(train.trained).toMatchObject({ promoted: true, plan: { segments: plan.segments } });
    expect(train.serving?.version).toBe(promoted);

    await expectServedByPlan(r.runId, promoted, plan);
  });

  it('after a --replace import with new item ids, the production model is not used (its catalogue no longer matches) and the new version replaces it', async () => {
    expect(promoted).toBeDefined();
    expect((await versions()).filter((v) => v.stage === 'production').map((v) => v.version)).toEqual([promoted]);
    const renamed = transformed(data, { itemPrefix: 'tt' });
    const imported = await load('renamed', renamed, true);
    expect(imported.items.replaced).toBe(true);
    expect(imported.interactions.replaced).toBe(true);
    // Both files replaced: the catalogue is the new file's items, none of the old ids left behind.
    const stale = await env.world.query<{ class_id: string }>(`select class_id from source.class where class_id not like 'tt%' order by class_id`);
    expect(stale.length, `classes of the old ids still in source.class after replacing items and interactions: ${stale.slice(0, 5).map((c) => c.class_id).join(', ')}…`).toBe(0);

    const r = await run('real_picks');
    const trainLog = await r.log('train');
    expect(trainLog).toMatch(new RegExp(`production model ${promoted} is not used: its catalogue no longer matches the data`));
    const train = r.output<TrainResult>('train');
    const version = train.trained.version;
    expect(version).not.toBe(promoted);
    expect(train.trained.promoted).toBe(true);
    expect(train.trained.reason).toMatch(new RegExp(`production ${promoted} cannot serve`));
    expect(train.serving?.version).toBe(version);

    const all = await versions();
    const row = all.find((v) => v.version === version)!;
    expect(row.stage).toBe('production');
    expect(all.filter((v) => v.stage === 'production').map((v) => v.version)).toEqual([version]);
    expect(row.serving!.production).toMatchObject({ version: promoted, unusable: expect.stringMatching(/catalogue no longer matches/) });
    expect(row.serving!.gate).toMatchObject({ promote: true, reason: expect.stringMatching(/cannot serve/) });

    // Nothing published comes from the stale model, and every pick is one of the new items.
    const rows = await picks();
    expect(rows.filter((p) => p.model_version.startsWith(promoted))).toEqual([]);
    expect(rows.filter((p) => !p.class_id.startsWith('tt')).map((p) => p.class_id)).toEqual([]);
    await expectServedByPlan(r.runId, version, asServingPlan(row.serving)!);
  });
});

describe('Daily Picks on real-shaped data: the rows do not depend on when the data was collected', { timeout: 300_000 }, () => {
  const { load, run, picks } = realWorld();
  // The same interactions five years ago, and three years later (still two years before today).
  const original = realShapedData({ seed: 12, end: new Date(TODAY - 5 * YEAR * DAY_MS) });
  const shifted = transformed(original, { days: 3 * YEAR });

  /** The published rows, as compared: member, row, position, class (and the reason, which should not move either). */
  const rowsOf = async (runId: string) => {
    const rows = await picks();
    expect(new Set(rows.map((p) => p.run_id))).toEqual(new Set([runId]));
    return rows.map((p) => `${p.member_id} ${p.row} ${p.position} ${p.class_id} ${p.model_version} ${p.reason}`);
  };

  it('the same interactions shifted by three years give the same heuristic rows, and so does a run as of just after the data’s end', async () => {
    await load('original', original, true);
    const before = await run('real_heuristics');
    const first = await rowsOf(before.runId);
    expect(first.length).toBeGreaterThan(80 * 10);

    await load('shifted', shifted, true);
    const after = await run('real_heuristics');
    // The extract saw the replaced data: every old day removed, the shifted ones read.
    expect(after.output<{ daysRemoved: number }>('extract').daysRemoved).toBeGreaterThan(0);
    expect(after.output<{ dataEnd: string }>('extract').dataEnd).toBe(new Date(lastAt(shifted)).toISOString());
    expect(await rowsOf(after.runId)).toEqual(first);

    // As of just after the data's last interaction (a run when the data was fresh): the same rows again.
    const justAfter = new Date(lastAt(shifted) + 1000);
    const atEnd = await run('real_heuristics', justAfter);
    expect(atEnd.output<{ asOf: string }>('extract').asOf).toBe(justAfter.toISOString());
    expect(await rowsOf(atEnd.runId)).toEqual(first);
  });
});
