/**
 * Feedback benchmark: what logging impressions costs the picks API, and how fast
 * `POST /api/v1/events` ingests client events, measured in one run.
 *
 *   npm run bench:events [-- --json] [--members N] [--classes N] [--days N] [--reuse]
 *                        [--connections N] [--duration S] [--rounds N] [--batch N] [--senders N]
 *
 * Set-up as bench:serve's (its own database BENCH_EVENTS_DATABASE_URL, default
 * …/flywheel_bench_events, and Redis prefix `fwbench-events`): migrate, `flywheel seed`, one
 * `flywheel dags test daily_picks`, which publishes the picks; `--reuse` keeps a set of the same size.
 *
 * The server is `flywheel web` in a child process, started afresh for each measurement with
 * FLYWHEEL_IMPRESSION_LOGGING off or on (impressions emptied before each), so each starts with an
 * empty dedupe memory. Each round, for off then on (on then off in even rounds):
 *   (b) first requests: after a warm-up on members kept apart, every other member exactly once in
 *       random order (autocannon `amount`): with logging on, every response is logged;
 *   (a) repeat requests: random members of the set for `--duration` s: with logging on, each was
 *       logged in (b) already, so the log only finds it in its memory.
 * req/s and p99 are compared off vs on (cost = 1 − on/off; aim ≤ 15%), with the server's CPU
 * per request. Then ingestion: `--senders` clients POST batches of `--batch` new events (ids never
 * repeat, a quarter clicks, an experiment covering one row so variants are filled by hash) for
 * `--duration` s: events/s (aim ≥ 20,000) and the batch latency.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { boolean, parseBenchFlags, positiveInteger } from './support/flags.ts';
import { startWebChild, type WebChild } from './support/web-child.ts';

const TARGETS = { loggingCost: 0.15, eventsPerSecond: 20_000 } as const;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'bin', 'flywheel.js');
const PREFIX = 'fwbench-events';
const SETUP_KEY = `${PREFIX}:bench:events:setup`;
const ROWS = ['for_your_usual', 'quick_workout', 'something_new'] as const;

const options = (() => {
  const flags = parseBenchFlags(
    {
      name: 'bench:events',
      description: 'Feedback benchmark: picks API req/s and p99 with impression logging off vs on (repeat and first requests), and POST /api/v1/events ingestion, in one run.',
      flags: {
        members: positiveInteger('N', 'members seeded', 20_000),
        classes: positiveInteger('N', 'classes seeded', 5_000),
        days: positiveInteger('N', 'days of history seeded', 60),
        reuse: boolean('skip the set-up when the published set of the same size is still there'),
        connections: positiveInteger('N', 'HTTP connections of the picks load, no pipelining', 10),
        duration: positiveInteger('S', 'seconds of each repeat-request run and of the ingestion run', 5),
        rounds: positiveInteger('N', 'rounds of (off, on); the median cost is reported', 3),
        warmup: positiveInteger('N', 'members kept apart for warming a fresh server up', 2_000),
        batch: positiveInteger('N', 'events per POST /events request', 1_000),
        senders: positiveInteger('N', 'concurrent POST /events clients', 4),
      },
      environment: ['BENCH_EVENTS_DATABASE_URL  default postgres://postgres@127.0.0.1:5432/flywheel_bench_events', 'REDIS_URL                  default redis://127.0.0.1:6379'].join('\n'),
    },
    process.argv.slice(2),
  );
  return { ...flags, databaseUrl: process.env.BENCH_EVENTS_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/flywheel_bench_events', redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' };
})();

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const progress = (message: string) => {
  if (!options.json) process.stderr.write(`${message}\n`);
};

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
function summary(values: number[]): { p50Ms: number; p99Ms: number } {
  const sorted = Float64Array.from(values).sort();
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
}

function env(logging: boolean, artifactsDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    ARTIFACTS_DIR: artifactsDir,
    FLYWHEEL_QUEUE_PREFIX: PREFIX,
    FLYWHEEL_SECRET_KEY: 'bench-events-secret-key-0123456789abcdef',
    FLYWHEEL_LOG_LEVEL: 'warn',
    FLYWHEEL_IMPRESSION_LOGGING: String(logging),
  };
}

function runCli(args: string[], childEnv: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`flywheel ${args.join(' ')} exited with ${code ?? signal}`))));
  });
}

/** The published set: seeded and published once (or reused), as bench:serve does it. */
async function setUp(redis: Redis): Promise<{ publicationId: number; memberIds: string[]; setupSeconds: number | null }> {
  const published = async () => {
    const pointer = await redis.get(`${PREFIX}:picks:current`);
    if (pointer === null) return null;
    const memberIds = await redis.hkeys(`${PREFIX}:picks:pub:${pointer}:members`);
    return memberIds.length === 0 ? null : { publicationId: Number(pointer), memberIds };
  };
  const shape = JSON.stringify({ members: options.members, classes: options.classes, days: options.days, db: options.databaseUrl });
  if (options.reuse && (await redis.get(SETUP_KEY)) === shape) {
    const existing = await published();
    if (existing) return { ...existing, setupSeconds: null };
  }
  const started = performance.now();
  const artifactsDir = mkdtempSync(path.join(os.tmpdir(), 'fwbench-events-'));
  try {
    await redis.del(SETUP_KEY);
    progress('set-up: migrate, seed, dags test daily_picks …');
    await runCli(['db', 'migrate'], env(false, artifactsDir));
    await runCli(['seed', '--members', String(options.members), '--classes', String(options.classes), '--days', String(options.days), '--replace'], env(false, artifactsDir));
    await runCli(['dags', 'test', 'daily_picks'], env(false, artifactsDir));
  } finally {
    rmSync(artifactsDir, { recursive: true, force: true });
  }
  const result = await published();
  if (!result) throw new Error('daily_picks ran but no publication is in the cache');
  await redis.set(SETUP_KEY, shape);
  return { ...result, setupSeconds: (performance.now() - started) / 1000 };
}

type ServerChild = WebChild;

function startServer(logging: boolean): Promise<ServerChild> {
  return startWebChild({ env: (artifactsDir) => env(logging, artifactsDir), tempPrefix: 'fwbench-events-web-' });
}

/** CPU seconds (user + system) of a process, from /proc (Linux); null elsewhere. */
function cpuSeconds(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

interface Load {
  rps: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  serverCpuMsPerRequest: number | null;
}

/** GET picks: `paths` in order (`amount` = all of them, each once) or at random for `duration` s. */
async function picksLoad(server: ServerChild, memberIds: readonly string[], run: { once: boolean }): Promise<Load> {
  const paths = memberIds.map((id) => `/api/v1/members/${encodeURIComponent(id)}/picks`);
  let next = 0;
  const latencies: number[] = [];
  const cpuBefore = cpuSeconds(server.child.pid);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: server.baseUrl,
        connections: options.connections,
        pipelining: 1,
        ...(run.once ? { amount: paths.length } : { duration: options.duration }),
        requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: run.once ? paths[next++ % paths.length]! : paths[Math.floor(Math.random() * paths.length)]! }) }],
      },
      (error, finished) => (error ? reject(error as Error) : resolve(finished)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode === 200) latencies.push(responseTime);
    });
  });
  const cpuAfter = cpuSeconds(server.child.pid);
  const ok = result['2xx'];
  return {
    rps: ok / result.duration,
    requests: ok,
    ...summary(latencies),
    errors: result.non2xx + result.errors + result.timeouts,
    serverCpuMsPerRequest: cpuBefore === null || cpuAfter === null || ok === 0 ? null : ((cpuAfter - cpuBefore) * 1000) / ok,
  };
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** `--senders` clients POSTing batches of new events for `--duration` s. */
async function ingestLoad(server: ServerChild, memberIds: readonly string[], classIds: readonly string[]) {
  const latencies: number[] = [];
  let events = 0;
  let accepted = 0;
  let failures = 0;
  const cpuBefore = cpuSeconds(server.child.pid);
  const started = performance.now();
  const until = started + options.duration * 1000;
  await Promise.all(
    Array.from({ length: options.senders }, async () => {
      while (performance.now() < until) {
        const occurredAt = new Date(Date.now() - 60_000).toISOString();
        const batch = Array.from({ length: options.batch }, (_, i) => ({
          eventId: randomUUID(),
          type: i % 4 === 3 ? 'click' : 'impression',
          memberId: memberIds[Math.floor(Math.random() * memberIds.length)]!,
          classId: classIds[Math.floor(Math.random() * classIds.length)]!,
          row: ROWS[i % 3]!,
          position: 1 + (i % 10),
          occurredAt,
        }));
        const body = JSON.stringify({ events: batch });
        const t0 = performance.now();
        const res = await fetch(`${server.baseUrl}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const answer = (await res.json()) as { accepted?: number; error?: string };
        if (res.status !== 200) {
          failures++;
          if (failures === 1) progress(`POST /events: ${res.status} ${answer.error ?? ''}`);
          continue;
        }
        latencies.push(performance.now() - t0);
        events += batch.length;
        accepted += answer.accepted ?? 0;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = cpuSeconds(server.child.pid);
  return { eventsPerSecond: events / seconds, events, accepted, failures, ...summary(latencies), serverCpuUsPerEvent: cpuBefore === null || cpuAfter === null || events === 0 ? null : ((cpuAfter - cpuBefore) * 1e6) / events };
}

/** Waits until the impression count stops growing (the server's log has written its backlog). */
async function drained(pool: pg.Pool): Promise<void> {
  const count = async () => (await pool.query<{ n: number }>('select count(*)::int as n from feedback.impression')).rows[0]!.n;
  let last = -1;
  for (let n = await count(); n !== last; n = await count()) {
    last = n;
    await sleep(1500);
  }
}

async function main(): Promise<void> {
  const redis = new Redis(options.redisUrl);
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
  const servers: ServerChild[] = [];
  try {
    const set = await setUp(redis);
    if (set.memberIds.length <= options.warmup) throw new Error(`--warmup (${options.warmup}) must be below the members published (${set.memberIds.length})`);
    const members = shuffled(set.memberIds);
    const warm = members.slice(0, options.warmup);
    const measured = members.slice(options.warmup);
    const rounds: { mode: 'off' | 'on'; first: Load; repeat: Load; impressions: number }[] = [];
    for (let r = 1; r <= options.rounds; r++) {
      for (const logging of r % 2 === 1 ? [false, true] : [true, false]) {
        const mode = logging ? 'on' : 'off';
        progress(`round ${r}/${options.rounds}, logging ${mode}: fresh server, warm-up, ${measured.length} first requests, ${options.duration} s of repeat requests …`);
        await pool.query('truncate feedback.impression');
        const server = await startServer(logging);
        servers.push(server);
        await picksLoad(server, warm, { once: true });
        const first = await picksLoad(server, shuffled(measured), { once: true });
        // (b)'s impressions are written before (a) starts: its backlog would otherwise be billed to (a).
        if (logging) await drained(pool);
        else await sleep(1500);
        const repeat = await picksLoad(server, measured, { once: false });
        await server.stop();
        const [{ n }] = (await pool.query<{ n: number }>('select count(*)::int as n from feedback.impression')).rows as [{ n: number }];
        rounds.push({ mode, first, repeat, impressions: n });
      }
    }
    const classIds = (await pool.query<{ class_id: string }>('select class_id from source.class')).rows.map((r) => r.class_id);
    await pool.query(`delete from experiment where key = 'bench-events'`);
    await pool.query(
      `insert into experiment (key, variants, rows, start_at, created_by) values ('bench-events', '[{"key":"heuristics","weight":50},{"key":"model","weight":50}]', '{for_your_usual}', now() - interval '1 day', 'bench')`,
    );
    progress(`ingestion: ${options.senders} senders × batches of ${options.batch} events, ${options.duration} s …`);
    const server = await startServer(true);
    servers.push(server);
    await ingestLoad(server, set.memberIds, classIds).catch(() => undefined); // warm-up
    const ingest = await ingestLoad(server, set.memberIds, classIds);
    await server.stop();
    await pool.query(`delete from experiment where key = 'bench-events'`);

    // Per round, on vs off; the round with the median cost of first requests is reported.
    const pairs = Array.from({ length: options.rounds }, (_, i) => {
      const [a, b] = [rounds[2 * i]!, rounds[2 * i + 1]!];
      const [off, on] = a.mode === 'off' ? [a, b] : [b, a];
      return { off, on, firstCost: 1 - on.first.rps / off.first.rps, repeatCost: 1 - on.repeat.rps / off.repeat.rps };
    });
    const median = (f: (p: (typeof pairs)[number]) => number) => [...pairs].map(f).sort((x, y) => x - y)[Math.floor((pairs.length - 1) / 2)]!;
    const view = (load: Load) => ({ rps: round(load.rps, 0), p50Ms: round(load.p50Ms, 2), p99Ms: round(load.p99Ms, 2), serverCpuMsPerRequest: load.serverCpuMsPerRequest === null ? null : round(load.serverCpuMsPerRequest, 3), errors: load.errors });
    const result = {
      repeat: { cost: round(median((p) => p.repeatCost), 3), rounds: pairs.map((p) => ({ off: view(p.off.repeat), on: view(p.on.repeat), cost: round(p.repeatCost, 3) })) },
      first: {
        cost: round(median((p) => p.firstCost), 3),
        rounds: pairs.map((p) => ({ off: view(p.off.first), on: view(p.on.first), cost: round(p.firstCost, 3), impressionsLogged: p.on.impressions, impressionsPerResponse: round(p.on.impressions / (p.on.first.requests + options.warmup), 1) })),
      },
      ingest: { eventsPerSecond: round(ingest.eventsPerSecond, 0), batch: options.batch, senders: options.senders, batchP50Ms: round(ingest.p50Ms, 1), batchP99Ms: round(ingest.p99Ms, 1), accepted: ingest.accepted, events: ingest.events, failures: ingest.failures, serverCpuUsPerEvent: ingest.serverCpuUsPerEvent === null ? null : round(ingest.serverCpuUsPerEvent, 1) },
      targets: { loggingCost: TARGETS.loggingCost, eventsPerSecond: TARGETS.eventsPerSecond },
      met: {} as Record<string, boolean>,
      details: { members: set.memberIds.length, measuredMembers: measured.length, publicationId: set.publicationId, setupSeconds: set.setupSeconds === null ? null : round(set.setupSeconds, 1), connections: options.connections, durationSeconds: options.duration },
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    };
    result.met = { repeatCost: result.repeat.cost <= TARGETS.loggingCost, firstCost: result.first.cost <= TARGETS.loggingCost, ingest: ingest.eventsPerSecond >= TARGETS.eventsPerSecond && ingest.failures === 0 };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const mark = (ok: boolean | undefined) => (ok ? 'ok' : 'MISS');
    const line = (label: string, off: ReturnType<typeof view>, on: ReturnType<typeof view>, cost: number) =>
      `${label.padEnd(8)} off ${String(off.rps).padStart(6)} req/s p99 ${off.p99Ms} ms cpu ${off.serverCpuMsPerRequest} ms/req | on ${String(on.rps).padStart(6)} req/s p99 ${on.p99Ms} ms cpu ${on.serverCpuMsPerRequest} ms/req | cost ${(cost * 100).toFixed(1)}%`;
    console.log(`picks API, impression logging off vs on (${options.connections} connections; ${measured.length} members measured of ${set.memberIds.length}):`);
    pairs.forEach((p, i) => {
      console.log(`  round ${i + 1}`);
      console.log(`    ${line('repeat', view(p.off.repeat), view(p.on.repeat), p.repeatCost)}`);
      console.log(`    ${line('first', view(p.off.first), view(p.on.first), p.firstCost)}  (${p.on.impressions} impressions logged)`);
    });
    console.log(`  median cost: repeat requests ${(result.repeat.cost * 100).toFixed(1)}% ${mark(result.met.repeatCost)}, first requests ${(result.first.cost * 100).toFixed(1)}% ${mark(result.met.firstCost)} (aim ≤ ${TARGETS.loggingCost * 100}%)`);
    console.log(
      `POST /events: ${result.ingest.eventsPerSecond} events/s ${mark(result.met.ingest)} (aim ≥ ${TARGETS.eventsPerSecond}); batches of ${options.batch} × ${options.senders} senders, p50 ${result.ingest.batchP50Ms} ms, p99 ${result.ingest.batchP99Ms} ms; ${ingest.accepted}/${ingest.events} accepted, ${ingest.failures} failed; server ${result.ingest.serverCpuUsPerEvent} µs CPU/event`,
    );
    console.log(`data: publication ${set.publicationId}${set.setupSeconds === null ? ', reused' : `, set up in ${round(set.setupSeconds, 1)} s`}; machine: ${result.machine.cpus} cpus (${result.machine.cpuModel}), node ${result.machine.node}`);
  } finally {
    for (const server of servers) await server.stop();
    await pool.end();
    redis.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
