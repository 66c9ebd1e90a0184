/**
 * `flywheel simulate` end to end on a small platform: three simulated days of an experiment
 * (heuristics vs model vs model_ignore_aware) through the real scheduler and workers
 * (test/fixtures/dags-sim: Daily Picks as shipped with a fast ranker) and the real picks API
 * over HTTP: exposures per variant, impressions at the simulated serving times, conversions
 * attributed to variants, the members' workouts written back to the source, and the report.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulation, type SimulationSummary } from '../../cli/simulate.ts';
import { variantOf } from '../../daily-picks/experiments/experiment.ts';
import { DAY_MS } from '../../model/data/time.ts';
import { Harness } from '../support/harness.ts';
import { PicksWorld } from '../support/picks.ts';

const SIM_DAGS = fileURLToPath(new URL('../fixtures/dags-sim', import.meta.url));
const DAYS = 3;
const VARIANTS = [
  { key: 'heuristics', weight: 34 },
  { key: 'model', weight: 33 },
  { key: 'model_ignore_aware', weight: 33 },
];

describe('flywheel simulate: an experiment on simulated members', { timeout: 300_000 }, () => {
  let harness: Harness;
  let world: PicksWorld;
  let summary: SimulationSummary;
  const lines: string[] = [];

  beforeAll(async () => {
    // No scheduler or workers of its own: each simulated day's run brings its own (runDagTest).
    harness = await Harness.start({ dagsFolder: SIM_DAGS, workers: {}, scheduler: false });
    world = await PicksWorld.create({ databaseUrl: harness.config.databaseUrl, prefix: harness.config.queuePrefix });
    summary = await runSimulation(
      { ...harness.config, artifactsDir: world.artifactsDir },
      {
        days: DAYS,
        experiment: 'sim',
        variants: VARIANTS,
        members: 240,
        classes: 150,
        historyDays: 40,
        seed: 4,
        dagId: 'sim_picks',
        concurrency: 8,
        onDay: (d) => lines.push(`${d.day}: ${d.runState} ${d.runSeconds}s served ${d.served} picked ${d.pickedWorkouts} organic ${d.organicWorkouts} ${d.firstError ?? ''}`),
      },
    );
  }, 280_000);
  afterAll(async () => {
    await world?.close();
    await harness?.close();
  });

  it('runs the DAG once per simulated day, its data interval ending at the day’s start (05:00 UTC, as scheduled)', async () => {
    expect(summary.days.map((d) => d.runState), lines.join('\n')).toEqual(['success', 'success', 'success']);
    const t0 = Date.parse(summary.startAt);
    expect(new Date(t0).getUTCHours()).toBe(5);
    expect(Date.parse(summary.endAt) - t0).toBe(DAYS * DAY_MS);
    const runs = await world.query<{ data_interval_end: Date }>(`select data_interval_end from dag_run where dag_id = 'sim_picks' order by data_interval_end`);
    expect(runs.map((r) => r.data_interval_end.getTime())).toEqual([0, 1, 2].map((d) => t0 + d * DAY_MS));
    expect(summary.days.every((d) => d.served > 20 && d.failedRequests === 0 && d.firstError === null)).toBe(true);
  });

  it('writes the members’ workouts back into the source, inside the simulated days', async () => {
    const [sim] = await world.query<{ n: number; first: Date; last: Date }>(
      `select count(*)::int as n, min(started_at) as first, max(started_at) as last from source.workout where started_at >= $1`,
      [summary.startAt],
    );
    const written = summary.days.reduce((a, d) => a + d.pickedWorkouts + d.organicWorkouts, 0);
    expect(sim!.n).toBe(written);
    expect(summary.days.reduce((a, d) => a + d.pickedWorkouts, 0)).toBeGreaterThan(0);
    expect(sim!.last.getTime()).toBeLessThan(Date.parse(summary.endAt));
    const [history] = await world.query<{ n: number }>(`select count(*)::int as n from source.workout where started_at < $1`, [summary.startAt]);
    expect(history!.n).toBeGreaterThan(1000);
  });

  it('exposes members of every variant, each to the variant the hash assigns', async () => {
    const exposures = await world.query<{ member_id: string; variant: string; exposed_at: Date }>(`select member_id, variant, exposed_at from feedback.exposure where experiment_key = 'sim'`);
    const variants = new Set(exposures.map((e) => e.variant));
    expect([...variants].sort()).toEqual(['heuristics', 'model', 'model_ignore_aware']);
    for (const e of exposures) {
      expect(e.variant).toBe(variantOf({ key: 'sim', variants: VARIANTS }, e.member_id).key);
      // Served at simulated times, not the wall clock's.
      expect(e.exposed_at.getTime()).toBeGreaterThanOrEqual(Date.parse(summary.startAt));
      expect(e.exposed_at.getTime()).toBeLessThan(Date.parse(summary.endAt));
    }
  });

  it('logs impressions of the rows served on each simulated day, with their variant', async () => {
    const rows = await world.query<{ day: string; variant: string | null; n: number }>(
      `select to_char(served_at at time zone 'UTC', 'YYYY-MM-DD') as day, variant, count(*)::int as n from feedback.impression
       where served_at >= $1 and served_at < $2 group by 1, 2`,
      [summary.startAt, summary.endAt],
    );
    expect(new Set(rows.map((r) => r.day)).size).toBeGreaterThanOrEqual(DAYS);
    const byVariant = new Map<string | null, number>();
    for (const r of rows) byVariant.set(r.variant, (byVariant.get(r.variant) ?? 0) + r.n);
    for (const v of VARIANTS) expect(byVariant.get(v.key) ?? 0).toBeGreaterThan(100);
  });

  it('attributes conversions to the variants, and reports the experiment', async () => {
    const conversions = await world.query<{ variant: string; n: number }>(`select variant, count(*)::int as n from feedback.conversion where experiment_key = 'sim' group by variant`);
    expect(conversions.length).toBeGreaterThanOrEqual(2);
    const total = conversions.reduce((a, c) => a + c.n, 0);
    expect(total).toBeGreaterThan(0);
    const report = summary.report!;
    expect(report.key).toBe('sim');
    expect(report.variants.map((v) => v.key)).toEqual(['heuristics', 'model', 'model_ignore_aware']);
    expect(report.variants.every((v) => v.exposed > 0 && v.impressions > 0)).toBe(true);
    // The app reported each picked class as a click (POST /events), under the row's variant.
    expect(report.variants.reduce((a, v) => a + v.clicks, 0)).toBe(summary.days.reduce((a, d) => a + d.pickedWorkouts, 0));
    expect(report.variants.reduce((a, v) => a + v.conversions, 0)).toBe(total);
    expect(report.lift.some((l) => l.metric === 'takeRate' && l.variant === 'model')).toBe(true);
  });
});
