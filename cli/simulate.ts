/**
 * `flywheel simulate`: days of a platform whose members respond to their picks. It seeds the
 * source with a history ending at T0, creates the experiment (if asked), then for each simulated
 * day runs the Daily Picks DAG through the real scheduler and workers (`runDagTest`, its data
 * interval ending at the day's start), serves the picks over HTTP from the real web app (its
 * clock set to the simulated time, so impressions and exposures carry it), lets the members
 * respond (daily-picks/source/seed-model/responses.ts) and writes their workouts into
 * `source.workout`, where the next day's run reads them.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import type pg from 'pg';
import type { FlywheelConfig } from '../core/config.ts';
import type { Database } from '../core/db/client.ts';
import { migrateDatabase } from '../core/db/migrate.ts';
import { experiments, type ExperimentVariant } from '../core/db/schema/experiment.ts';
import { FlywheelError } from '../core/errors.ts';
import { createRuntime, type Runtime } from '../core/runtime.ts';
import { requireRedis } from '../core/service-errors.ts';
import { dataIntervalFor } from '../core/scheduler/dag-runs.ts';
import type { Dag } from '../core/sdk/dag.ts';
import { experimentReport, type ExperimentReport } from '../daily-picks/experiments/report.ts';
import { createExperiment, getExperiment } from '../daily-picks/experiments/store.ts';
import { attributeConversions } from '../daily-picks/feedback/conversions.ts';
import { respondToDay, planDay, simulatedMembers, simulationWorld, type SimulatedMember, type SimulationWorld } from '../daily-picks/source/seed-model/responses.ts';
import { SourceInputError } from '../daily-picks/source/errors.ts';
import { seedSource, todayUtc, validateSeedOptions, type SeedSummary } from '../daily-picks/source/seed.ts';
import { DAY_MS } from '../model/data/time.ts';
import { closeWebApp, createWebApp, listen, webOptionsFromRuntime } from '../web/server.ts';
import { runDagTest } from './dag-test.ts';
import { fetchPicks, postClicks, type Click } from './simulate-client.ts';

export interface SimulateOptions {
  /** Simulated days: one run of the DAG each. */
  days: number;
  /** Experiment to create (when absent) from T0 and report at the end. @defaultValue none */
  experiment?: string | null;
  /** The experiment's variants (the first is the baseline). @defaultValue heuristics:34, model:33, model_ignore_aware:33 */
  variants?: ExperimentVariant[];
  /** @defaultValue 3000 */
  members?: number;
  /** @defaultValue 800 */
  classes?: number;
  /** Days of seeded history before T0. @defaultValue 90 */
  historyDays?: number;
  /** @defaultValue 1 */
  seed?: number;
  /** Empty the source and feedback tables (and re-create the experiment) first. @defaultValue false */
  replace?: boolean;
  /** The DAG run each day. @defaultValue 'daily_picks' */
  dagId?: string;
  /** Picks requests in flight at once. @defaultValue 16 */
  concurrency?: number;
  /** "Today": the simulated days end at the latest run boundary at or before it. @defaultValue the wall clock */
  now?: Date;
  /** Limit of one daily run. @defaultValue 30 minutes */
  runTimeoutMs?: number;
  /** Called once the source is seeded (before the first day). */
  onSeeded?: (seeded: SeedSummary, startAt: Date) => void;
  /** Called after each simulated day. */
  onDay?: (day: SimulatedDay) => void;
}

export const DEFAULT_VARIANTS: ExperimentVariant[] = [
  { key: 'heuristics', weight: 34 },
  { key: 'model', weight: 33 },
  { key: 'model_ignore_aware', weight: 33 },
];

export interface SimulatedDay {
  /** 1-based. */
  day: number;
  /** Start of the simulated day: the run's data interval end. */
  startAt: string;
  runId: string;
  runState: string;
  runSeconds: number;
  /** Members who opened the app (and were served their picks). */
  served: number;
  /** Picks requests (those members did their organic workouts) and click events that failed. */
  failedRequests: number;
  /** The first failure's message, or null. */
  firstError: string | null;
  pickedWorkouts: number;
  organicWorkouts: number;
  /** Classes examined and left, over all members. */
  ignored: number;
  /** Serving, responding and writing the workouts back (after the run). */
  simulateSeconds: number;
}

export interface SimulationSummary {
  dagId: string;
  seed: SeedSummary;
  /** T0: the end of the seeded history, the start of simulated day 1. */
  startAt: string;
  endAt: string;
  days: SimulatedDay[];
  /** Conversions stored by the final attribution (the last day's). */
  finalConversions: number;
  experiment: string | null;
  report: ExperimentReport | null;
}

/** T0: the latest boundary of the DAG's schedule at or before `days` days before today, checked to tick every 24 h after. */
export function simulationStart(dag: Dag, now: Date, days: number): Date {
  const start = dataIntervalFor(dag, new Date(todayUtc(now).getTime() - days * DAY_MS), 'manual').end;
  for (let d = 0; d < days; d += 1) {
    const at = new Date(start.getTime() + d * DAY_MS);
    if (dataIntervalFor(dag, at, 'manual').end.getTime() !== at.getTime()) {
      throw new FlywheelError('invalid', `DAG "${dag.dagId}" does not have a data interval ending at ${at.toISOString()}: simulate needs a daily schedule (or none)`);
    }
  }
  return start;
}

/** A logical date whose `test__` run id is free (a replaced simulation ran the same days before): the boundary, or a few ms after it. */
async function freeLogicalDate(db: Database, dagId: string, at: Date): Promise<Date> {
  const taken = await db.execute<{ run_id: string }>(sql`select run_id from dag_run where dag_id = ${dagId} and run_id like ${`test__${at.toISOString().slice(0, 19)}%`}`);
  const ids = new Set(taken.rows.map((r) => r.run_id));
  let k = 0;
  while (ids.has(`test__${new Date(at.getTime() + k).toISOString()}`)) k += 1;
  return new Date(at.getTime() + k);
}

/** Empties what describes the data being replaced: the feedback about it and the experiment of that name. */
async function clearForReplace(db: Database, experimentKey: string | null): Promise<void> {
  await db.execute(sql`truncate feedback.impression, feedback.event, feedback.conversion, feedback.exposure`);
  if (experimentKey) await db.delete(experiments).where(sql`${experiments.key} = ${experimentKey}`);
}

async function ensureExperiment(db: Database, key: string, variants: ExperimentVariant[], startAt: Date, seed: number): Promise<void> {
  if (await getExperiment(db, key, startAt)) return;
  await createExperiment(db, { key, variants, startAt, description: `flywheel simulate (seed ${seed})` }, 'flywheel simulate', { now: startAt });
}

/** Refuses (as `seed` does) to generate over someone's data, before anything is written; seedSource checks again under its lock. */
async function refuseNonEmptySource(db: Database): Promise<void> {
  const { rows } = await db.execute<{ filled: boolean }>(sql`
    select exists(select 1 from source.member) or exists(select 1 from source.class) or exists(select 1 from source.workout) as filled`);
  if (rows[0]?.filled) throw new SourceInputError('the source tables already hold data: pass --replace to empty them (and the feedback about them) first');
}

async function insertWorkouts(pool: pg.Pool, workouts: { memberId: string; classId: string; startedAt: number; completion: number }[]): Promise<void> {
  for (let from = 0; from < workouts.length; from += 20_000) {
    const batch = workouts.slice(from, from + 20_000);
    await pool.query(
      `insert into source.workout (member_id, class_id, started_at, completion)
       select m, c, to_timestamp(s), p from unnest($1::text[], $2::text[], $3::float8[], $4::real[]) as u(m, c, s, p)`,
      [batch.map((w) => w.memberId), batch.map((w) => w.classId), batch.map((w) => w.startedAt / 1000), batch.map((w) => w.completion)],
    );
  }
}

/** One simulated day after its run: serve, respond, report clicks, write the workouts back. Returns the members after the day. */
async function simulateDay(runtime: Runtime, world: SimulationWorld, members: SimulatedMember[], day: number, concurrency: number) {
  const began = performance.now();
  const servedAt = new Map<string, number>();
  for (const sim of members) {
    const at = planDay(world, sim, day).servedAt;
    if (at !== null) servedAt.set(sim.member.id, at);
  }
  const dayStart = world.startMs + day * DAY_MS;
  let clockMs = dayStart;
  const app = createWebApp({ ...webOptionsFromRuntime(runtime), secretKey: runtime.config.secretKey ?? randomBytes(32).toString('base64url'), clock: () => new Date(clockMs) });
  const server = await listen(app, 0, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const next = [...members];
  const workouts: { memberId: string; classId: string; startedAt: number; completion: number }[] = [];
  const clicks: Click[] = [];
  let ignored = 0;
  let fetched: Awaited<ReturnType<typeof fetchPicks>>;
  let clicked: Awaited<ReturnType<typeof postClicks>>;
  try {
    fetched = await fetchPicks(base, servedAt, (ms) => (clockMs = ms), concurrency);
    members.forEach((sim, index) => {
      const served = fetched.served.get(sim.member.id);
      if (!served) return;
      const response = respondToDay(world, sim, day, served.rows);
      next[index] = response.next;
      ignored += response.ignored.length;
      for (const w of response.workouts) {
        workouts.push({ memberId: sim.member.id, classId: w.classId, startedAt: w.startedAt, completion: w.completion });
        if (w.picked) clicks.push({ memberId: sim.member.id, classId: w.classId, row: w.row!, position: w.position!, occurredAt: w.startedAt, served });
      }
    });
    // The app reports the clicks at the end of the day (its clock then: none is in its future).
    clockMs = dayStart + DAY_MS;
    clicked = await postClicks(base, clicks);
  } finally {
    // Writes the impressions and exposures it still buffers: the next run reads them.
    await closeWebApp(app);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await insertWorkouts(runtime.database.pool, workouts);
  return {
    next,
    served: servedAt.size,
    failedRequests: fetched.failed + clicked.failed,
    firstError: fetched.firstError ?? clicked.firstError,
    pickedWorkouts: clicks.length,
    organicWorkouts: workouts.length - clicks.length,
    ignored,
    seconds: (performance.now() - began) / 1000,
  };
}

/** Runs the simulation (see the file comment). */
export async function runSimulation(config: FlywheelConfig, options: SimulateOptions): Promise<SimulationSummary> {
  const { days } = options;
  const dagId = options.dagId ?? 'daily_picks';
  const key = options.experiment ?? null;
  const seedOptions = { members: options.members ?? 3000, classes: options.classes ?? 800, seed: options.seed ?? 1, historyDays: options.historyDays ?? 90 };
  if (!Number.isInteger(days) || days < 1) throw new FlywheelError('invalid', `--days must be a positive integer (got ${days})`);
  if (!Number.isInteger(seedOptions.historyDays) || seedOptions.historyDays < 1) throw new FlywheelError('invalid', `--history-days must be a positive integer (got ${seedOptions.historyDays})`);
  const variants = options.variants ?? DEFAULT_VARIANTS;
  // The common mistakes, before --replace empties anything (createExperiment checks it all again).
  if (key && (variants.length < 2 || variants.reduce((a, v) => a + v.weight, 0) !== 100)) {
    throw new FlywheelError('invalid', `--variants: two or more, with weights summing to 100 (got ${variants.map((v) => `${v.key}:${v.weight}`).join(',')})`);
  }
  // Redis before anything is written (the seed): each simulated day's run needs it. The database
  // must exist already (`flywheel db migrate` creates it); pending migrations are applied.
  await requireRedis(config.redisUrl);
  await migrateDatabase(config.databaseUrl);
  const runtime = createRuntime(config, { name: 'simulate' });
  try {
    const t0 = simulationStart(await runtime.dags.require(dagId), options.now ?? new Date(), days);
    const end = new Date(t0.getTime() + days * DAY_MS);
    // The seed covers the simulated days too (classes air, members sign up and churn in them);
    // its workouts from T0 on are removed: the simulation writes those.
    const model = validateSeedOptions({ members: seedOptions.members, classes: seedOptions.classes, days: seedOptions.historyDays + days, seed: seedOptions.seed, until: end });
    if (options.replace) await clearForReplace(runtime.db, key);
    else await refuseNonEmptySource(runtime.db);
    // The experiment first: a bad variant list or a row conflict is refused before the data is generated.
    if (key) await ensureExperiment(runtime.db, key, variants, t0, seedOptions.seed);
    const seeded = await seedSource(runtime.database.pool, { ...model, replace: Boolean(options.replace), audit: { actor: 'flywheel simulate', auth: 'cli' } });
    await runtime.db.execute(sql`delete from source.workout where started_at >= ${t0.toISOString()}::timestamptz`);
    options.onSeeded?.(seeded, t0);
    const world = simulationWorld(model, days);
    let members = simulatedMembers(model, world);
    const summaries: SimulatedDay[] = [];
    for (let day = 0; day < days; day += 1) {
      const at = new Date(t0.getTime() + day * DAY_MS);
      const run = await runDagTest(config, dagId, { logicalDate: await freeLogicalDate(runtime.db, dagId, at), timeoutMs: options.runTimeoutMs ?? 30 * 60_000 });
      const result = await simulateDay(runtime, world, members, day, options.concurrency ?? 16);
      members = result.next;
      const summary: SimulatedDay = {
        day: day + 1,
        startAt: at.toISOString(),
        runId: run.runId,
        runState: run.state,
        runSeconds: Math.round(run.durationMs / 100) / 10,
        served: result.served,
        failedRequests: result.failedRequests,
        firstError: result.firstError,
        pickedWorkouts: result.pickedWorkouts,
        organicWorkouts: result.organicWorkouts,
        ignored: result.ignored,
        simulateSeconds: Math.round(result.seconds * 10) / 10,
      };
      summaries.push(summary);
      options.onDay?.(summary);
    }
    // The daily run attributes the days before it; the last simulated day has no run after it.
    const final = await attributeConversions(runtime.db, { until: end, lookbackHours: 24 * (days + 1) });
    const report = key ? await experimentReport(runtime.db, key, { now: end }) : null;
    return { dagId, seed: seeded, startAt: t0.toISOString(), endAt: end.toISOString(), days: summaries, finalConversions: final.conversions, experiment: key, report };
  } finally {
    await runtime.close();
  }
}
