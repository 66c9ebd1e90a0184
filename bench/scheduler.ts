/**
 * Scheduler benchmark: raw BullMQ throughput vs orchestrated throughput (full state in
 * PostgreSQL), task-to-task hop latency, and the "Astronomer shape" (10 DAGs × 100-task chains).
 * Everything is measured in one run, on the same Redis and PostgreSQL, so the figures compare.
 *
 *   npm run bench:scheduler [-- --json] [--raw-jobs N] [--wide-tasks N] [--wide-runs N]
 *                           [--chain-tasks N] [--shape-dags N] [--shape-tasks N] [--concurrency N] [--skip-raw]
 *
 * `--help` lists the flags and their defaults; a bad value or an unknown flag exits 2 before
 * anything runs (the shared parser, bench/support/flags.ts).
 *
 * Environment: BENCH_DB_POOL (PostgreSQL pool size, default 10); BENCH_KEEP_DB=1 keeps the bench
 * database for inspection; BENCH_VACUUM=1 runs VACUUM ANALYZE between phases (what autovacuum
 * would do; it is off on these machines). `details.cpuMsPerTask` is the CPU of this process, of
 * the bench database's PostgreSQL backends and of Redis, per task of the throughput phase.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Queue, Worker } from 'bullmq';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { loadConfig } from '../core/config.ts';
import { createRuntime, createScheduler, createTaskWorker, type Runtime } from '../core/runtime.ts';
import { triggerDagRun } from '../core/scheduler/actions.ts';
import { createTestDatabase } from '../test/support/database.ts';
import { BENCH_DAGS_FOLDER, writeBenchDags } from './dag-files.ts';
import { boolean, parseBenchFlags, positiveInteger } from './support/flags.ts';

const TARGETS = { ratio: 0.2, hopP50Ms: 5, hopP99Ms: 25, astronomerShapeSeconds: 3 } as const;
const AIRFLOW_2_SHAPE_SECONDS = 14.3;

interface Options {
  json: boolean;
  rawJobs: number;
  wideTasks: number;
  wideRuns: number;
  chainTasks: number;
  shapeDags: number;
  shapeTasks: number;
  concurrency: number;
  redisUrl: string;
  /** Skip the raw BullMQ measurement (for profiling the orchestrator alone). */
  skipRaw: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const flags = parseBenchFlags(
    {
      name: 'bench:scheduler',
      description: 'Scheduler benchmark: raw BullMQ throughput vs orchestrated throughput, task-to-task hop latency and the Astronomer shape, in one run on the same Redis and PostgreSQL.',
      flags: {
        rawJobs: positiveInteger('N', 'no-op jobs in the raw BullMQ measurement', 20_000),
        wideTasks: positiveInteger('N', 'independent no-op tasks in the wide DAG', 5_000),
        wideRuns: positiveInteger('N', 'concurrent runs of the wide DAG (the throughput phase)', 2),
        chainTasks: positiveInteger('N', 'length of the hop-latency chain', 200),
        shapeDags: positiveInteger('N', 'DAGs in the Astronomer shape', 10),
        shapeTasks: positiveInteger('N', 'chain length of each Astronomer-shape DAG', 100),
        concurrency: positiveInteger('N', 'worker concurrency (raw BullMQ and the default pool)', 100),
        skipRaw: boolean('skip the raw BullMQ measurement (to profile the orchestrator alone)'),
      },
      environment: [
        'REDIS_URL        default redis://127.0.0.1:6379',
        'BENCH_DB_POOL    PostgreSQL pool size, default 10',
        'BENCH_KEEP_DB=1  keep the bench database for inspection',
        'BENCH_VACUUM=1   VACUUM ANALYZE between phases',
      ].join('\n'),
    },
    argv,
  );
  return { ...flags, redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------
// Raw BullMQ: N no-op jobs added with addBulk in chunks and processed at concurrency 100.
// ---------------------------------------------------------------------------------------------

async function rawBullmq(
  redisUrl: string,
  prefix: string,
  jobs: number,
  concurrency: number,
): Promise<{ jobsPerSec: number; seconds: number; cpuMsPerJob: { node: number; redis: number | null } }> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const redisPid = Number(/process_id:(\d+)/.exec(await connection.info('server'))?.[1]);
  const queue = new Queue('raw', { connection, prefix });
  let completed = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const worker = new Worker('raw', async () => 'ok', { connection, prefix, concurrency, autorun: false });
  worker.on('completed', () => {
    completed += 1;
    if (completed === jobs) resolveDone();
  });
  worker.on('error', () => undefined);
  void worker.run();
  await worker.waitUntilReady();
  await sleep(200);
  const chunk = 1_000;
  const cpuBefore = process.cpuUsage();
  const redisBefore = processCpuMs(redisPid);
  const started = performance.now();
  for (let offset = 0; offset < jobs; offset += chunk) {
    const size = Math.min(chunk, jobs - offset);
    await queue.addBulk(
      Array.from({ length: size }, (_, i) => ({
        name: 'noop',
        data: { i: offset + i },
        opts: { jobId: `raw.${offset + i}`, attempts: 1, removeOnComplete: { count: 1000 }, removeOnFail: { count: 10_000 } },
      })),
    );
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const redisAfter = processCpuMs(redisPid);
  const cpuMsPerJob = {
    node: (cpu.user + cpu.system) / 1000 / jobs,
    redis: redisBefore !== null && redisAfter !== null ? (redisAfter - redisBefore) / jobs : null,
  };
  await worker.close();
  await queue.close();
  connection.disconnect();
  return { jobsPerSec: jobs / seconds, seconds, cpuMsPerJob };
}

// ---------------------------------------------------------------------------------------------
// The orchestrator, in process: scheduler loop + TaskWorker on the default pool.
// ---------------------------------------------------------------------------------------------

type RunRow = {
  id: number;
  state: string;
  end_date: Date | null;
};

async function waitForRuns(runtime: Runtime, ids: readonly number[], timeoutMs: number): Promise<RunRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await runtime.db.execute<RunRow>(sql`select id, state, end_date from dag_run where id = any(${sql.param([...ids])}::bigint[])`);
    const rows = result.rows;
    if (rows.length === ids.length && rows.every((r) => r.state === 'success' || r.state === 'failed')) {
      const failed = rows.filter((r) => r.state !== 'success');
      if (failed.length > 0) throw new Error(`runs ${failed.map((r) => r.id).join(', ')} failed`);
      return rows;
    }
    if (Date.now() > deadline) {
      const counts = await runtime.db.execute<{ state: string; n: number }>(
        sql`select state, count(*)::int as n from task_instance where dag_run_id = any(${sql.param([...ids])}::bigint[]) group by state`,
      );
      throw new Error(`runs not finished after ${timeoutMs} ms: ${rows.map((r) => `${r.id}=${r.state}`).join(', ')}; tasks ${JSON.stringify(counts.rows)}`);
    }
    await sleep(50);
  }
}

/** Milliseconds from `startedAt` (epoch ms) to the last run's end_date. */
function lastEndMs(rows: readonly RunRow[], startedAt: number): number {
  const end = Math.max(...rows.map((r) => new Date(r.end_date!).getTime()));
  return end - startedAt;
}

/** CPU milliseconds (user + system) of a process, from /proc (Linux); null elsewhere. */
function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

interface CpuSnapshot {
  node: number;
  /** CPU ms per PostgreSQL backend serving the bench database. */
  postgres: Map<number, number>;
  redis: number | null;
}

/** CPU used so far by this process, the PostgreSQL backends serving the bench database, and Redis. */
async function cpuSnapshot(runtime: Runtime): Promise<CpuSnapshot> {
  const backends = await runtime.db.execute<{ pid: number }>(sql`select pid from pg_stat_activity where datname = current_database()`);
  const postgres = new Map<number, number>();
  for (const { pid } of backends.rows) {
    const ms = processCpuMs(pid);
    if (ms !== null) postgres.set(pid, ms);
  }
  const info = await runtime.redis.info('server');
  const redisPid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  const usage = process.cpuUsage();
  return { node: (usage.user + usage.system) / 1000, postgres, redis: Number.isFinite(redisPid) ? processCpuMs(redisPid) : null };
}

/** CPU ms spent since `before`: this process, the bench database's backends (new ones in full), Redis (shared with anything else using it). */
async function cpuSince(runtime: Runtime, before: CpuSnapshot): Promise<{ node: number; postgres: number; redis: number | null }> {
  const after = await cpuSnapshot(runtime);
  let postgres = 0;
  for (const [pid, ms] of after.postgres) postgres += ms - (before.postgres.get(pid) ?? 0);
  return { node: after.node - before.node, postgres, redis: after.redis !== null && before.redis !== null ? after.redis - before.redis : null };
}

async function commitCount(runtime: Runtime): Promise<number> {
  const result = await runtime.db.execute<{ n: number }>(sql`select xact_commit::bigint as n from pg_stat_database where datname = current_database()`);
  return Number(result.rows[0]?.n ?? 0);
}

interface OrchestratedResult {
  tasksPerSec: number;
  tasks: number;
  seconds: number;
  commitsPerTask: number | null;
  cpuMsPerTask: { node: number; postgres: number; redis: number | null };
  hopP50Ms: number;
  hopP99Ms: number;
  hopMaxMs: number;
  chainSeconds: number;
  astronomerShapeSeconds: number;
}

async function orchestrated(options: Options, prefix: string): Promise<OrchestratedResult> {
  const ids = await writeBenchDags({
    wideTasks: options.wideTasks,
    chainTasks: options.chainTasks,
    shapeDags: options.shapeDags,
    shapeTasks: options.shapeTasks,
  });
  const database = await createTestDatabase();
  const config = loadConfig(
    {},
    {
      databaseUrl: database.url,
      redisUrl: options.redisUrl,
      dagsFolder: BENCH_DAGS_FOLDER,
      queuePrefix: prefix,
      schedulerIntervalMs: 200,
      heartbeatMs: 5_000,
      zombieThresholdMs: 60_000,
      dagRefreshMs: 600_000,
      logLevel: process.env.FLYWHEEL_LOG_LEVEL === undefined ? 'warn' : loadConfig().logLevel,
      shutdownGraceMs: 5_000,
    },
  );
  const runtime = createRuntime(config, { name: 'bench', databasePoolSize: Number(process.env.BENCH_DB_POOL ?? 10) });
  const scheduler = createScheduler(runtime);
  const worker = createTaskWorker(runtime, { pool: 'default', concurrency: options.concurrency });
  try {
    await scheduler.syncDags();
    scheduler.start();
    worker.start();
    const trigger = (dagId: string, runId: string) =>
      triggerDagRun(runtime, dagId, { runId, triggeredBy: 'bench', logicalDate: new Date() }).then((r) => r.dagRunId);

    // Warm-up: JIT, connection pools, BullMQ scripts.
    const warm = await trigger(ids.warmup, 'warmup');
    await waitForRuns(runtime, [warm], 60_000);
    if (process.env.BENCH_VACUUM) await runtime.db.execute(sql`vacuum analyze`);

    // Throughput: wide DAG runs, all triggered at once.
    const commitsBefore = await commitCount(runtime);
    const cpuBefore = await cpuSnapshot(runtime);
    const wideStarted = Date.now();
    const wideRuns = await Promise.all(Array.from({ length: options.wideRuns }, (_, i) => trigger(ids.wide, `wide_${i}`)));
    const wideRows = await waitForRuns(runtime, wideRuns, 300_000);
    const wideMs = lastEndMs(wideRows, wideStarted);
    const tasks = options.wideTasks * options.wideRuns;
    const cpu = await cpuSince(runtime, cpuBefore);
    await sleep(1_100); // PostgreSQL publishes backend statistics at most once a second
    const commitsAfter = await commitCount(runtime);

    if (process.env.BENCH_VACUUM) await runtime.db.execute(sql`vacuum analyze`);
    // Hop latency: a linear chain, downstream start − upstream end for each consecutive pair.
    const chainStarted = Date.now();
    const chainRun = await trigger(ids.chain, 'chain');
    const chainRows = await waitForRuns(runtime, [chainRun], 120_000);
    const chainMs = lastEndMs(chainRows, chainStarted);
    const tis = await runtime.db.execute<{ task_id: string; start_date: Date; end_date: Date }>(
      sql`select task_id, start_date, end_date from task_instance where dag_run_id = ${chainRun} order by task_id`,
    );
    const hops: number[] = [];
    for (let i = 1; i < tis.rows.length; i += 1) {
      hops.push(new Date(tis.rows[i]!.start_date).getTime() - new Date(tis.rows[i - 1]!.end_date).getTime());
    }
    hops.sort((a, b) => a - b);

    if (process.env.BENCH_VACUUM) await runtime.db.execute(sql`vacuum analyze`);
    // Astronomer shape: 10 DAGs × a 100-task chain, all triggered at once.
    const shapeStarted = Date.now();
    const shapeRuns = await Promise.all(ids.shape.map((dagId) => trigger(dagId, 'shape')));
    const shapeRows = await waitForRuns(runtime, shapeRuns, 300_000);
    const shapeMs = lastEndMs(shapeRows, shapeStarted);

    return {
      tasksPerSec: tasks / (wideMs / 1000),
      tasks,
      seconds: wideMs / 1000,
      commitsPerTask: commitsAfter > commitsBefore ? (commitsAfter - commitsBefore) / tasks : null,
      cpuMsPerTask: { node: cpu.node / tasks, postgres: cpu.postgres / tasks, redis: cpu.redis === null ? null : cpu.redis / tasks },
      hopP50Ms: percentile(hops, 50),
      hopP99Ms: percentile(hops, 99),
      hopMaxMs: hops[hops.length - 1] ?? Number.NaN,
      chainSeconds: chainMs / 1000,
      astronomerShapeSeconds: shapeMs / 1000,
    };
  } finally {
    await scheduler.stop();
    await worker.close();
    await runtime.close();
    if (process.env.BENCH_KEEP_DB) console.error(`kept database ${database.url}`);
    else await database.drop();
  }
}

async function deleteKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const prefix = `fwbench-${randomUUID().slice(0, 8)}`;
  const progress = (message: string) => {
    if (!options.json) process.stderr.write(`${message}\n`);
  };
  try {
    progress(`raw BullMQ: ${options.rawJobs} jobs, concurrency ${options.concurrency} …`);
    const raw = options.skipRaw
      ? { jobsPerSec: Number.NaN, seconds: Number.NaN, cpuMsPerJob: { node: Number.NaN, redis: null } }
      : await rawBullmq(options.redisUrl, `${prefix}-raw`, options.rawJobs, options.concurrency);
    await deleteKeys(options.redisUrl, `${prefix}-raw`);
    progress(`orchestrated: ${options.wideRuns} × ${options.wideTasks} wide, ${options.chainTasks}-task chain, ${options.shapeDags} × ${options.shapeTasks} chains …`);
    const orch = await orchestrated(options, prefix);
    const result = {
      rawBullmqJobsPerSec: round(raw.jobsPerSec, 0),
      orchestratedTasksPerSec: round(orch.tasksPerSec, 0),
      ratio: round(orch.tasksPerSec / raw.jobsPerSec, 3),
      hopP50Ms: round(orch.hopP50Ms, 2),
      hopP99Ms: round(orch.hopP99Ms, 2),
      astronomerShapeSeconds: round(orch.astronomerShapeSeconds, 3),
      targets: { ratio: TARGETS.ratio, hopP50Ms: TARGETS.hopP50Ms, hopP99Ms: TARGETS.hopP99Ms, astronomerShapeSeconds: TARGETS.astronomerShapeSeconds },
      met: {
        ratio: orch.tasksPerSec / raw.jobsPerSec >= TARGETS.ratio,
        hopP50Ms: orch.hopP50Ms <= TARGETS.hopP50Ms,
        hopP99Ms: orch.hopP99Ms <= TARGETS.hopP99Ms,
        astronomerShapeSeconds: orch.astronomerShapeSeconds <= TARGETS.astronomerShapeSeconds,
      },
      airflow2ShapeSeconds: AIRFLOW_2_SHAPE_SECONDS,
      details: {
        rawJobs: options.rawJobs,
        rawSeconds: round(raw.seconds, 3),
        rawCpuMsPerJob: { node: round(raw.cpuMsPerJob.node, 3), redis: raw.cpuMsPerJob.redis === null ? null : round(raw.cpuMsPerJob.redis, 3) },
        orchestratedTasks: orch.tasks,
        orchestratedSeconds: round(orch.seconds, 3),
        commitsPerTask: orch.commitsPerTask === null ? null : round(orch.commitsPerTask, 3),
        cpuMsPerTask: {
          node: round(orch.cpuMsPerTask.node, 3),
          postgres: round(orch.cpuMsPerTask.postgres, 3),
          redis: orch.cpuMsPerTask.redis === null ? null : round(orch.cpuMsPerTask.redis, 3),
        },
        hopMaxMs: round(orch.hopMaxMs, 2),
        chainTasks: options.chainTasks,
        chainSeconds: round(orch.chainSeconds, 3),
        shape: `${options.shapeDags} DAGs × ${options.shapeTasks}-task chain`,
        workerConcurrency: options.concurrency,
      },
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.arch()}` },
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const mark = (ok: boolean) => (ok ? 'ok ' : 'MISS');
      const rows: [string, string, string, string][] = [
        ['raw BullMQ jobs/s', String(result.rawBullmqJobsPerSec), '', `${options.rawJobs} jobs in ${result.details.rawSeconds} s`],
        ['orchestrated tasks/s', String(result.orchestratedTasksPerSec), '', `${orch.tasks} tasks in ${result.details.orchestratedSeconds} s, ${result.details.commitsPerTask ?? '?'} commits/task`],
        [
          'CPU ms per task',
          '',
          '',
          `raw: node ${result.details.rawCpuMsPerJob.node}, redis ${result.details.rawCpuMsPerJob.redis ?? '?'}; orchestrated: node ${result.details.cpuMsPerTask.node}, postgres ${result.details.cpuMsPerTask.postgres}, redis ${result.details.cpuMsPerTask.redis ?? '?'}`,
        ],
        ['ratio', String(result.ratio), `≥ ${TARGETS.ratio}  ${mark(result.met.ratio)}`, ''],
        ['hop p50 (ms)', String(result.hopP50Ms), `≤ ${TARGETS.hopP50Ms}  ${mark(result.met.hopP50Ms)}`, `${options.chainTasks}-task chain in ${result.details.chainSeconds} s`],
        ['hop p99 (ms)', String(result.hopP99Ms), `≤ ${TARGETS.hopP99Ms}  ${mark(result.met.hopP99Ms)}`, `max ${result.details.hopMaxMs} ms`],
        ['Astronomer shape (s)', String(result.astronomerShapeSeconds), `≤ ${TARGETS.astronomerShapeSeconds}  ${mark(result.met.astronomerShapeSeconds)}`, `${result.details.shape}; Airflow 2.0: ${AIRFLOW_2_SHAPE_SECONDS} s`],
      ];
      const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length), ['metric', 'value', 'target'][c]!.length));
      const line = (r: readonly string[]) => `${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padStart(widths[1]!)}  ${r[2]!.padEnd(widths[2]!)}  ${r[3]}`.trimEnd();
      console.log(line(['metric', 'value', 'target', 'notes']));
      for (const row of rows) console.log(line(row));
      console.log(`machine: ${result.machine.cpus} cpus (${result.machine.cpuModel}), node ${result.machine.node}, ${result.machine.platform}`);
    }
  } finally {
    await deleteKeys(options.redisUrl, `${prefix}-raw`);
    await deleteKeys(options.redisUrl, prefix);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
