/**
 * Daily Picks with a ranker, end to end through the scheduler and sandboxed workers on a small
 * seeded dataset: when training fails the run still publishes heuristic rows (train red, the
 * run green); when the ranker's ranking exists, every member it ranked gets the model's rows
 * (inactive ones too: the serving plan decides who gets which ranking) and members without
 * history popular classes.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSource } from '../../daily-picks/source/seed.ts';
import { ID_ORDER_MODEL } from '../fixtures/dags-picks/_ranker.ts';
import { LAST_GOOD_MODEL } from '../fixtures/dags-picks/picks_last_good.ts';
import { Harness } from '../support/harness.ts';
import { day, PicksWorld, publishedRows } from '../support/picks.ts';

const PICKS_DAGS = fileURLToPath(new URL('../fixtures/dags-picks', import.meta.url));
const UNTIL = day('2026-05-01');

describe('Daily Picks with a ranker (fixture DAGs through the scheduler)', { timeout: 180_000 }, () => {
  let harness: Harness;
  let world: PicksWorld;

  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: PICKS_DAGS, workers: { default: 3 } });
    // The tasks (sandboxed children of this process's workers) read their connections from the environment.
    world = await PicksWorld.create({ databaseUrl: harness.config.databaseUrl, prefix: harness.config.queuePrefix });
    // 90 days, so some members stopped 60+ days before the as-of time; some never worked out.
    const summary = await seedSource(world.pool, { members: 250, classes: 150, days: 90, seed: 3, until: UNTIL });
    expect(summary.memberKinds.cold).toBeGreaterThan(0);
    expect(summary.memberKinds.inactive).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await world?.close();
    await harness?.close();
  });

  /** Each member's expected source as of `asOf`: popularity without history, else the model (inactivity alone is no reason to fall back). */
  async function expectedSources(asOf: Date, model: string): Promise<Map<string, string>> {
    const rows = await world.query<{ member_id: string; last_ms: number | null }>(
      `select m.member_id, (select (extract(epoch from max(w.started_at)) * 1000)::float8 from source.workout w where w.member_id = m.member_id and w.started_at < $1) as last_ms
       from source.member m where m.signup_at is null or m.signup_at < $1`,
      [asOf],
    );
    return new Map(rows.map((r) => [r.member_id, r.last_ms === null ? 'popularity' : model]));
  }

  async function publishedSources(runId: string): Promise<Map<string, string>> {
    const rows = await world.query<{ member_id: string; versions: string[]; runs: string[] }>(
      'select member_id, array_agg(distinct model_version) as versions, array_agg(distinct run_id) as runs from picks group by member_id',
    );
    for (const r of rows) {
      expect(r.versions, r.member_id).toHaveLength(1);
      expect(r.runs).toEqual([runId]);
    }
    return new Map(rows.map((r) => [r.member_id, r.versions[0]!]));
  }

  it('training fails: the run succeeds with train failed, rank upstream_failed, and heuristic rows published', async () => {
    // The run's conf overrides the DAG's options (rankedSize 20 → 7).
    const run = await harness.trigger('picks_train_fails', { logicalDate: UNTIL, conf: { dailyPicks: { rankedSize: 7 } } });
    const finished = await harness.waitForRun(run.dagRunId, { timeoutMs: 150_000 });
    const states = await harness.taskStates(run.dagRunId);
    expect(states).toEqual({ extract: 'success', heuristics: 'success', attribute_conversions: 'success', train: 'failed', rank: 'upstream_failed', select_ranking: 'success', filter_rows: 'success', publish: 'success' });
    expect(finished.state).toBe('success');
    expect((await harness.tries(run.dagRunId, 'train')).length).toBe(1);

    const instances = await harness.taskInstances(run.dagRunId);
    const rows = instances.find((t) => t.taskId === 'filter_rows')!.output as { sources: Record<string, number>; members: number };
    expect(rows.sources.model).toBe(0);
    expect(rows.sources.heuristics).toBeGreaterThan(0);
    const selectLog = (await harness.logs(run.dagRunId, 'select_ranking', 1)).map((l) => l.message).join('\n');
    expect(selectLog).toMatch(/no model ranking this run: rows come from the heuristics/);

    const expected = await expectedSources(UNTIL, 'heuristics');
    expect(await publishedSources(run.runId)).toEqual(expected);
    expect(new Set(expected.values())).toEqual(new Set(['heuristics', 'popularity']));
    const ranked = await world.query<{ n: number }>(`select max(position)::int as n from picks where row = 'ranked'`);
    expect(ranked[0]!.n).toBe(7);
    const publication = (await world.query<{ model_version: string; status: string }>(`select model_version, status from picks_publication where dag_id = 'picks_train_fails' and run_id = $1`, [run.runId]))[0]!;
    expect(publication).toEqual({ model_version: 'heuristics', status: 'current' });
  });

  it('with a model ranking: members it ranked get the model\'s rows, inactive ones too; members without history popularity', async () => {
    const run = await harness.trigger('picks_with_model', { logicalDate: UNTIL });
    const finished = await harness.waitForRun(run.dagRunId, { timeoutMs: 150_000 });
    expect(await harness.taskStates(run.dagRunId)).toEqual({ extract: 'success', heuristics: 'success', attribute_conversions: 'success', train: 'success', rank: 'success', select_ranking: 'success', filter_rows: 'success', publish: 'success' });
    expect(finished.state).toBe('success');

    const expected = await expectedSources(UNTIL, ID_ORDER_MODEL);
    const counts = { model: 0, ease: 0, baseline: 0, heuristics: 0, popularity: 0 };
    for (const source of expected.values()) counts[source === ID_ORDER_MODEL ? 'model' : (source as 'heuristics' | 'popularity')] += 1;
    expect(counts.model).toBeGreaterThan(0);
    expect(counts.popularity).toBeGreaterThan(0);
    expect(await publishedSources(run.runId)).toEqual(expected);
    const instances = await harness.taskInstances(run.dagRunId);
    const rowsOutput = instances.find((t) => t.taskId === 'filter_rows')!.output as { sources: Record<string, number>; inactiveMembers: number };
    expect(rowsOutput.sources).toEqual(counts);
    // Inactive members are there, and got the model's rows.
    expect(rowsOutput.inactiveMembers).toBeGreaterThan(0);
    expect((await world.query<{ model_version: string }>(`select model_version from picks_publication where dag_id = 'picks_with_model' and run_id = $1`, [run.runId]))[0]!.model_version).toBe(ID_ORDER_MODEL);

    // A model member's ranked row is the model's order (class id descending), taken classes and
    // expired encores left out, cut at rankedSize 20; its scores are the model's.
    const member = [...expected].find(([, source]) => source === ID_ORDER_MODEL)![0];
    const catalogue = await world.query<{ class_id: string }>(
      `select class_id from source.class c where (c.aired_at is null or c.aired_at < $1)
         and not exists (select 1 from source.workout w where w.member_id = $2 and w.class_id = c.class_id and w.started_at < $1)
         and not (c.is_encore and (c.aired_at is null or c.aired_at < $1::timestamptz - interval '7 days'))
       order by class_id collate "C" desc limit 20`,
      [UNTIL, member],
    );
    const rows = await publishedRows(world, member);
    expect(rows.get('ranked')!.map((p) => p.classId)).toEqual(catalogue.map((c) => c.class_id));
    const scores = rows.get('ranked')!.map((p) => p.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    for (const row of rows.values()) for (const pick of row) expect(pick.reason.length).toBeGreaterThan(0);
  });

  it('rankings in order of preference: a failed model and a null ranking are skipped, the last good model is used', async () => {
    const run = await harness.trigger('picks_last_good', { logicalDate: UNTIL });
    const finished = await harness.waitForRun(run.dagRunId, { timeoutMs: 150_000 });
    expect(await harness.taskStates(run.dagRunId)).toEqual({
      extract: 'success',
      heuristics: 'success',
      attribute_conversions: 'success',
      train: 'failed',
      rank: 'upstream_failed',
      no_model: 'success',
      rank_last_good: 'success',
      select_ranking: 'success',
      filter_rows: 'success',
      publish: 'success',
    });
    expect(finished.state).toBe('success');
    expect(await publishedSources(run.runId)).toEqual(await expectedSources(UNTIL, LAST_GOOD_MODEL));
    const selectLog = (await harness.logs(run.dagRunId, 'select_ranking', 1)).map((l) => l.message).join('\n');
    expect(selectLog).toMatch(/rank has no ranking/);
    expect(selectLog).toMatch(/using rank_last_good's ranking/);
    expect(selectLog).not.toMatch(/no model ranking this run/);
  });
});
