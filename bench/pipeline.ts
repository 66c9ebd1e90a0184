/**
 * Daily Picks pipeline benchmark: the whole `daily_picks` DAG (extract → heuristics →
 * filter_rows → publish) on generated data, seconds per task, run through the real scheduler,
 * workers and sandboxes (`dags test`). Two runs: the first extracts all history, the second
 * (the next day's run) only what changed (`--runs 1`: the first only). The reference, measured
 * in the same run, is one full read of the workout table into Node through a cursor: the least
 * any pipeline must do.
 *
 *   npm run bench:pipeline [-- --json] [--members N] [--classes N] [--days N] [--seed S] [--reuse] [--runs 1|2]
 *
 * `--help` lists the flags and their defaults; a bad value or an unknown flag exits 2 before
 * anything runs (the shared parser, bench/support/flags.ts).
 *
 * Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/flywheel_bench_pipeline),
 * REDIS_URL, BENCH_ARTIFACTS_DIR (default a fresh temp folder).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../core/config.ts';
import { runDagTest, type DagTestResult } from '../cli/dag-test.ts';
import { migrateDatabase } from '../core/db/migrate.ts';
import { seedSource } from '../daily-picks/source/seed.ts';
import { boolean, integerIn, parseBenchFlags, positiveInteger } from './support/flags.ts';

const TARGET_SECONDS = 600;

const values = parseBenchFlags({
  name: 'bench:pipeline',
  description: 'Daily Picks pipeline benchmark: the whole daily_picks DAG on generated data through the real scheduler, workers and sandboxes, against one full read of the workout table.',
  flags: {
    members: positiveInteger('N', 'members seeded', 100_000),
    classes: positiveInteger('N', 'classes seeded', 5_000),
    days: positiveInteger('N', 'days of history seeded', 60),
    seed: integerIn('S', 'seed of the generated data (0 to 4294967295)', 0, 0xffffffff, 1),
    reuse: boolean('keep the source data already in the database (seed only when it is empty)'),
    runs: integerIn('1|2', 'daily_picks runs: 1 = the first (all history), 2 = also the next day\'s (incremental)', 1, 2, 2),
  },
  environment: [
    'BENCH_DATABASE_URL   default postgres://postgres@127.0.0.1:5432/flywheel_bench_pipeline',
    'REDIS_URL',
    'BENCH_ARTIFACTS_DIR  default a fresh temp folder (removed after)',
  ].join('\n'),
});
const { members, classes, days, runs } = values;
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/flywheel_bench_pipeline';
const say = (message: string) => {
  if (!values.json) process.stderr.write(`${message}\n`);
};

async function referenceScanSeconds(pool: pg.Pool): Promise<{ seconds: number; rows: number }> {
  const client = await pool.connect();
  const started = performance.now();
  let rows = 0;
  try {
    await client.query('begin isolation level repeatable read read only');
    await client.query(`declare scan no scroll cursor for select member_id, class_id, (extract(epoch from started_at) * 1000)::float8, completion from source.workout`);
    for (;;) {
      const result = await client.query('fetch forward 20000 from scan');
      if (result.rows.length === 0) break;
      rows += result.rows.length;
    }
    await client.query('commit');
  } finally {
    client.release();
  }
  return { seconds: (performance.now() - started) / 1000, rows };
}

function perTask(result: DagTestResult): Record<string, number> {
  return Object.fromEntries(result.tasks.map((t) => [t.taskId, (t.durationMs ?? 0) / 1000]));
}

const artifactsDir = process.env.BENCH_ARTIFACTS_DIR ?? (await mkdtemp(path.join(os.tmpdir(), 'flywheel-bench-pipeline-')));
process.env.DATABASE_URL = databaseUrl;
process.env.ARTIFACTS_DIR = artifactsDir;
process.env.FLYWHEEL_LOG_LEVEL ??= 'warn';
// Fixed, so each publish retires the cache of the one two before it (keys live under this prefix).
process.env.FLYWHEEL_QUEUE_PREFIX ??= 'bench-pipeline';
await migrateDatabase(databaseUrl, { createDatabase: true });
const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
try {
  let seedSeconds: number | null = null;
  const existing = await pool.query<{ n: number }>('select count(*)::int as n from source.member');
  if (!values.reuse || existing.rows[0]!.n === 0) {
    say(`seeding ${members} members × ${classes} classes × ${days} days …`);
    const started = performance.now();
    await seedSource(pool, { members, classes, days, seed: values.seed, replace: true });
    seedSeconds = (performance.now() - started) / 1000;
  }
  const counts = await pool.query<{ members: number; classes: number; workouts: number }>(
    'select (select count(*)::int from source.member) as members, (select count(*)::int from source.class) as classes, (select count(*)::int from source.workout) as workouts',
  );
  say(`source: ${counts.rows[0]!.members} members, ${counts.rows[0]!.classes} classes, ${counts.rows[0]!.workouts} workouts`);
  const reference = await referenceScanSeconds(pool);
  say(`reference: full workout scan into Node ${reference.seconds.toFixed(1)} s (${reference.rows} rows)`);
  const config = loadConfig();
  const results: { run: string; state: string; totalSeconds: number; tasks: Record<string, number>; ratioToReference: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const label = i === 0 ? 'first (all history)' : 'next (incremental)';
    say(`running daily_picks: ${label} …`);
    const result = await runDagTest(config, 'daily_picks', { timeoutMs: 30 * 60_000 });
    const totalSeconds = result.durationMs / 1000;
    results.push({ run: label, state: result.state, totalSeconds, tasks: perTask(result), ratioToReference: totalSeconds / reference.seconds });
    if (result.state !== 'success') {
      process.stderr.write(`run failed: ${JSON.stringify(result.tasks.filter((t) => t.error).map((t) => ({ taskId: t.taskId, error: t.error?.slice(0, 500) })))}\n`);
      process.exitCode = 1;
      break;
    }
  }
  const report = {
    members: counts.rows[0]!.members,
    classes: counts.rows[0]!.classes,
    workouts: counts.rows[0]!.workouts,
    days,
    cpus: os.cpus().length,
    seedSeconds,
    referenceScanSeconds: reference.seconds,
    runs: results,
    targetSeconds: TARGET_SECONDS,
    meetsTarget: results.every((r) => r.state === 'success' && r.totalSeconds <= TARGET_SECONDS),
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const lines = [
      `Daily Picks pipeline: ${report.members} members × ${report.classes} classes, ${report.workouts} workouts over ${days} days, ${report.cpus} CPUs`,
      seedSeconds === null ? 'seed: reused' : `seed: ${seedSeconds.toFixed(1)} s`,
      `reference (one full workout scan into Node): ${reference.seconds.toFixed(1)} s`,
    ];
    for (const r of results) {
      lines.push(`${r.run}: ${r.state} in ${r.totalSeconds.toFixed(1)} s (${r.ratioToReference.toFixed(1)}× the reference; target ≤ ${TARGET_SECONDS} s)`);
      for (const [task, seconds] of Object.entries(r.tasks)) lines.push(`  ${task.padEnd(12)} ${seconds.toFixed(1).padStart(7)} s`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
} finally {
  await pool.end();
  if (!process.env.BENCH_ARTIFACTS_DIR) await rm(artifactsDir, { recursive: true, force: true });
}
