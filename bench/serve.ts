/**
 * Picks serving benchmark: `GET /api/v1/members/:memberId/picks` under a loopback load
 * generator (autocannon), next to raw Redis throughput of the same cached values, measured in
 * the same run so the figures compare on a shared, noisy machine.
 *
 *   npm run bench:serve [-- --json] [--members N] [--classes N] [--days N] [--reuse]
 *                       [--connections N] [--duration S] [--rounds N] [--warmup S] [--rate N] [--cpu-prof DIR]
 *
 * `--help` lists the flags and their defaults; a bad value or an unknown flag exits 2 before
 * anything runs (the shared parser, bench/support/flags.ts).
 *
 * Set-up: a dedicated database (BENCH_SERVE_DATABASE_URL, default …/flywheel_bench_serve) is
 * migrated, seeded (`flywheel seed`) and `daily_picks` is run once (`flywheel dags test`), which
 * publishes the picks table and the Redis cache under the prefix `fwbench-serve`. `--reuse` skips
 * that when the published set of the same size is still there (a set-up takes ~1 min at 20k members).
 *
 * Measured with the server (`flywheel web`) in a child process: first a sample of responses
 * through fetch (body bytes, the source mix: all should be `cache`), a warm-up, then `--rounds`
 * rounds (default 3, `--duration` 5 s each part) of:
 *   1. max throughput: autocannon, `--connections` connections, no pipelining (`rps`, `p50Ms`, `p99Ms`);
 *   2. fixed rate: autocannon `overallRate` = `--rate` (5,000 req/s), same connections;
 *   3. `redisGetRps`: HGET of the same members' cached values from Node (ioredis, one client per
 *      connection, one command in flight per client: the same concurrency, no pipelining).
 * Every request asks for a random member of the published set. Latencies are each response's
 * own time (sub-millisecond), not autocannon's integer-ms histogram; autocannon's rate limit is a
 * per-second budget per connection, so the fixed-rate run sends in bursts (conservative p99).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { boolean, parseBenchFlags, positiveInteger, text } from './support/flags.ts';
import { startWebChild, type WebChild } from './support/web-child.ts';

const TARGETS = { p99Ms: 5, rps: 5000 } as const;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'bin', 'flywheel.js');
const PREFIX = 'fwbench-serve';
const SETUP_KEY = `${PREFIX}:bench:serve:setup`;

interface Options {
  json: boolean;
  members: number;
  classes: number;
  days: number;
  reuse: boolean;
  connections: number;
  duration: number;
  warmup: number;
  rate: number;
  rounds: number;
  cpuProf: string | null;
  databaseUrl: string;
  redisUrl: string;
}

function parseOptions(argv: readonly string[]): Options {
  const { cpuProf, ...flags } = parseBenchFlags(
    {
      name: 'bench:serve',
      description: 'Picks serving benchmark: GET /api/v1/members/:memberId/picks under autocannon, next to raw Redis HGET throughput of the same cached values, in one run.',
      flags: {
        members: positiveInteger('N', 'members seeded', 20_000),
        classes: positiveInteger('N', 'classes seeded', 5_000),
        days: positiveInteger('N', 'days of history seeded', 60),
        reuse: boolean('skip the set-up when the published set of the same size is still there'),
        connections: positiveInteger('N', 'HTTP connections (and Redis clients), no pipelining', 10),
        duration: positiveInteger('S', 'seconds of each part of a round', 5),
        rounds: positiveInteger('N', 'rounds of (max throughput, fixed rate, Redis HGET); the median ratio is reported', 3),
        warmup: positiveInteger('S', 'seconds of warm-up load before the rounds', 3),
        rate: positiveInteger('N', 'requests per second of the fixed-rate run', TARGETS.rps),
        cpuProf: text('DIR', 'write a V8 CPU profile of the server (node --cpu-prof) into DIR'),
      },
      environment: [
        'BENCH_SERVE_DATABASE_URL  default postgres://postgres@127.0.0.1:5432/flywheel_bench_serve',
        'REDIS_URL                 default redis://127.0.0.1:6379',
      ].join('\n'),
    },
    argv,
  );
  return {
    ...flags,
    cpuProf: cpuProf ? path.resolve(cpuProf) : null,
    databaseUrl: process.env.BENCH_SERVE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/flywheel_bench_serve',
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Collects latencies (ms, fractional) without per-sample allocation. */
class Latencies {
  private values = new Float64Array(1 << 16);
  private n = 0;
  add(ms: number): void {
    if (this.n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.n++] = ms;
  }
  summary(): { count: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number; meanMs: number } {
    const sorted = this.values.slice(0, this.n).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: this.n,
      p50Ms: percentile(sorted, 50),
      p90Ms: percentile(sorted, 90),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
      meanMs: sorted.length ? sum / sorted.length : Number.NaN,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Set-up: database, seed, one daily_picks run (publishes the picks table and the Redis cache).
// ---------------------------------------------------------------------------------------------

function childEnv(options: Options, artifactsDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    ARTIFACTS_DIR: artifactsDir,
    FLYWHEEL_QUEUE_PREFIX: PREFIX,
    FLYWHEEL_SECRET_KEY: process.env.FLYWHEEL_SECRET_KEY ?? 'bench-serve-secret-key-0123456789abcdef',
    FLYWHEEL_LOG_LEVEL: 'warn',
  };
}

function runCli(args: string[], env: NodeJS.ProcessEnv, quiet: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`flywheel ${args.join(' ')} exited with ${code ?? signal}`))));
  });
}

interface Published {
  publicationId: number;
  memberIds: string[];
}

async function published(redis: Redis): Promise<Published | null> {
  const pointer = await redis.get(`${PREFIX}:picks:current`);
  if (pointer === null) return null;
  const publicationId = Number(pointer);
  const memberIds = await redis.hkeys(`${PREFIX}:picks:pub:${publicationId}:members`);
  return memberIds.length === 0 ? null : { publicationId, memberIds };
}

async function setUp(options: Options, redis: Redis, progress: (m: string) => void): Promise<{ published: Published; setupSeconds: number | null }> {
  const shape = JSON.stringify({ members: options.members, classes: options.classes, days: options.days, db: options.databaseUrl });
  if (options.reuse && (await redis.get(SETUP_KEY)) === shape) {
    const existing = await published(redis);
    if (existing) {
      progress(`reusing publication ${existing.publicationId} (${existing.memberIds.length} members)`);
      return { published: existing, setupSeconds: null };
    }
  }
  const started = performance.now();
  const artifactsDir = mkdtempSync(path.join(os.tmpdir(), 'fwbench-serve-'));
  try {
    const env = childEnv(options, artifactsDir);
    await redis.del(SETUP_KEY);
    progress('set-up: migrate (creates the database if needed) …');
    await runCli(['db', 'migrate'], env, true);
    progress(`set-up: seed ${options.members} members × ${options.classes} classes × ${options.days} days …`);
    await runCli(['seed', '--members', String(options.members), '--classes', String(options.classes), '--days', String(options.days), '--replace'], env, true);
    progress('set-up: dags test daily_picks (extract → heuristics → filter_rows → publish) …');
    await runCli(['dags', 'test', 'daily_picks'], env, true);
  } finally {
    rmSync(artifactsDir, { recursive: true, force: true });
  }
  const result = await published(redis);
  if (!result) throw new Error('daily_picks ran but no publication is in the cache');
  await redis.set(SETUP_KEY, shape);
  return { published: result, setupSeconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// The server child.
// ---------------------------------------------------------------------------------------------

type ServerChild = WebChild;

async function startServer(options: Options): Promise<ServerChild> {
  const nodeArgs: string[] = [];
  if (options.cpuProf) {
    mkdirSync(options.cpuProf, { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', options.cpuProf);
  }
  return startWebChild({ env: (artifactsDir) => childEnv(options, artifactsDir), nodeArgs, tempPrefix: 'fwbench-serve-web-' });
}

/** CPU seconds (user, system) a process has used, from /proc (Linux); null elsewhere. */
function cpuSeconds(pid: number | undefined): { user: number; sys: number } | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 }; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

/** CPU ms per request between two readings: user + system, and the system part. */
function cpuMsPer(before: { user: number; sys: number } | null, after: { user: number; sys: number } | null, requests: number): { total: number; sys: number } | null {
  if (!before || !after || requests <= 0) return null;
  return { total: ((after.user - before.user + after.sys - before.sys) * 1000) / requests, sys: ((after.sys - before.sys) * 1000) / requests };
}

// ---------------------------------------------------------------------------------------------
// Measurements.
// ---------------------------------------------------------------------------------------------

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

interface SampleResult {
  sampled: number;
  sources: Record<string, number>;
  bodyBytes: { mean: number; min: number; max: number };
  picksPerResponse: number;
}

/** Fetches a sample of members one by one: body size, the source mix, and that the shape holds. */
async function sampleResponses(baseUrl: string, memberIds: readonly string[], count: number): Promise<SampleResult> {
  const sources: Record<string, number> = {};
  let bytes = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let picks = 0;
  for (let i = 0; i < count; i++) {
    const id = pick(memberIds);
    const response = await fetch(`${baseUrl}/api/v1/members/${encodeURIComponent(id)}/picks`);
    const body = await response.text();
    if (response.status !== 200) throw new Error(`GET picks for ${id}: ${response.status} ${body.slice(0, 200)}`);
    const view = JSON.parse(body) as { memberId: string; source: string; rows: { row: string; picks: { classId: string; title: unknown; score: number }[] }[] };
    if (view.memberId !== id || !Array.isArray(view.rows)) throw new Error(`GET picks for ${id}: unexpected body ${body.slice(0, 200)}`);
    sources[view.source] = (sources[view.source] ?? 0) + 1;
    const size = Buffer.byteLength(body);
    bytes += size;
    min = Math.min(min, size);
    max = Math.max(max, size);
    for (const row of view.rows) picks += row.picks.length;
  }
  return { sampled: count, sources, bodyBytes: { mean: bytes / count, min, max }, picksPerResponse: picks / count };
}

interface HttpRun {
  rps: number;
  seconds: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  bytesPerResponse: number;
  latency: ReturnType<Latencies['summary']>;
  serverCpuMsPerRequest: { total: number; sys: number } | null;
  loadGeneratorCpuMsPerRequest: number;
}

async function httpLoad(server: ServerChild, memberIds: readonly string[], options: Options, run: { duration: number; rate?: number }): Promise<HttpRun> {
  const paths = memberIds.map((id) => `/api/v1/members/${encodeURIComponent(id)}/picks`);
  const latencies = new Latencies();
  const cpuBefore = cpuSeconds(server.child.pid);
  const ownBefore = process.cpuUsage();
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: server.baseUrl,
        connections: options.connections,
        pipelining: 1,
        duration: run.duration,
        ...(run.rate ? { overallRate: run.rate } : {}),
        requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: pick(paths) }) }],
      },
      (error, finished) => (error ? reject(error as Error) : resolve(finished)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.add(responseTime);
    });
  });
  // autocannon's own window (from the first connection to the end), not counting set-up.
  const seconds = result.duration > 0 ? result.duration : (performance.now() - started) / 1000;
  const cpuAfter = cpuSeconds(server.child.pid);
  const own = process.cpuUsage(ownBefore);
  const ok = result['2xx'];
  return {
    rps: ok / seconds,
    seconds,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    bytesPerResponse: ok > 0 ? result.throughput.total / ok : Number.NaN,
    latency: latencies.summary(),
    serverCpuMsPerRequest: cpuMsPer(cpuBefore, cpuAfter, ok),
    loadGeneratorCpuMsPerRequest: ok > 0 ? (own.user + own.system) / 1000 / ok : Number.NaN,
  };
}

/** HGET of the same cached values: one ioredis client per connection, one command in flight each. */
async function redisGetLoad(options: Options, publicationId: number, memberIds: readonly string[], seconds: number) {
  const key = `${PREFIX}:picks:pub:${publicationId}:members`;
  const clients = Array.from({ length: options.connections }, () => new Redis(options.redisUrl, { enableAutoPipelining: false, maxRetriesPerRequest: 1 }));
  try {
    await Promise.all(clients.map((c) => c.ping()));
    const latencies = new Latencies();
    let count = 0;
    let bytes = 0;
    const started = performance.now();
    const until = started + seconds * 1000;
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < until) {
          const t0 = performance.now();
          const value = await client.hget(key, pick(memberIds));
          latencies.add(performance.now() - t0);
          if (value === null) throw new Error('a published member has no cached value');
          bytes += value.length;
          count++;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    return { rps: count / elapsed, seconds: elapsed, requests: count, valueBytes: bytes / count, latency: latencies.summary() };
  } finally {
    await Promise.all(clients.map((c) => c.quit()));
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const progress = (message: string) => {
    if (!options.json) process.stderr.write(`${message}\n`);
  };
  const redis = new Redis(options.redisUrl);
  let server: ServerChild | null = null;
  try {
    const { published: set, setupSeconds } = await setUp(options, redis, progress);
    progress(`server: flywheel web in a child process${options.cpuProf ? ` (--cpu-prof → ${options.cpuProf})` : ''} …`);
    server = await startServer(options);
    const sample = await sampleResponses(server.baseUrl, set.memberIds, 500);
    progress(`warm-up ${options.warmup} s …`);
    await httpLoad(server, set.memberIds, options, { duration: options.warmup });
    // Rounds of (max throughput, fixed rate, Redis): each round's ratio compares figures taken
    // seconds apart; the round with the median ratio is reported, all rounds are in `details.rounds`.
    const rounds: { max: HttpRun; fixed: HttpRun; raw: Awaited<ReturnType<typeof redisGetLoad>> }[] = [];
    for (let r = 1; r <= options.rounds; r++) {
      progress(`round ${r}/${options.rounds}: max throughput (${options.connections} connections), ${options.rate} req/s, Redis HGET (${options.connections} clients), ${options.duration} s each …`);
      const max = await httpLoad(server, set.memberIds, options, { duration: options.duration });
      await sleep(300);
      const fixed = await httpLoad(server, set.memberIds, options, { duration: options.duration, rate: options.rate });
      await sleep(300);
      const raw = await redisGetLoad(options, set.publicationId, set.memberIds, options.duration);
      rounds.push({ max, fixed, raw });
    }
    const byRatio = [...rounds].sort((a, b) => a.max.rps / a.raw.rps - b.max.rps / b.raw.rps);
    const { max, fixed, raw } = byRatio[Math.floor((byRatio.length - 1) / 2)]!;
    await server.stop();
    server = null;

    const result = {
      rps: round(max.rps, 0),
      p50Ms: round(max.latency.p50Ms, 2),
      p99Ms: round(max.latency.p99Ms, 2),
      atRate: { targetRps: options.rate, rps: round(fixed.rps, 0), p50Ms: round(fixed.latency.p50Ms, 2), p99Ms: round(fixed.latency.p99Ms, 2) },
      redisGetRps: round(raw.rps, 0),
      ratio: round(max.rps / raw.rps, 3),
      responseBytes: round(sample.bodyBytes.mean, 0),
      sources: sample.sources,
      targets: { p99Ms: TARGETS.p99Ms, rps: TARGETS.rps },
      met: {
        maxRps: max.rps >= TARGETS.rps,
        // autocannon's rate limit lags the nominal rate by a few per cent: 95% counts as reached.
        p99AtRate: fixed.rps >= TARGETS.rps * 0.95 && fixed.latency.p99Ms <= TARGETS.p99Ms,
        allFromCache: Object.keys(sample.sources).length === 1 && sample.sources.cache === sample.sampled,
      },
      details: {
        members: set.memberIds.length,
        publicationId: set.publicationId,
        setupSeconds: setupSeconds === null ? null : round(setupSeconds, 1),
        connections: options.connections,
        durationSeconds: options.duration,
        picksPerResponse: round(sample.picksPerResponse, 1),
        responseBytesRange: [sample.bodyBytes.min, sample.bodyBytes.max],
        cachedValueBytes: round(raw.valueBytes, 0),
        max: {
          requests: max.requests,
          p90Ms: round(max.latency.p90Ms, 2),
          maxMs: round(max.latency.maxMs, 2),
          meanMs: round(max.latency.meanMs, 3),
          non2xx: max.non2xx,
          errors: max.errors + max.timeouts,
          bytesPerResponseWithHeaders: round(max.bytesPerResponse, 0),
          serverCpuMsPerRequest: max.serverCpuMsPerRequest === null ? null : round(max.serverCpuMsPerRequest.total, 3),
          serverSysCpuMsPerRequest: max.serverCpuMsPerRequest === null ? null : round(max.serverCpuMsPerRequest.sys, 3),
          loadGeneratorCpuMsPerRequest: round(max.loadGeneratorCpuMsPerRequest, 3),
        },
        atRate: {
          requests: fixed.requests,
          p90Ms: round(fixed.latency.p90Ms, 2),
          maxMs: round(fixed.latency.maxMs, 2),
          non2xx: fixed.non2xx,
          errors: fixed.errors + fixed.timeouts,
          serverCpuMsPerRequest: fixed.serverCpuMsPerRequest === null ? null : round(fixed.serverCpuMsPerRequest.total, 3),
          serverSysCpuMsPerRequest: fixed.serverCpuMsPerRequest === null ? null : round(fixed.serverCpuMsPerRequest.sys, 3),
          rateRatio: round(fixed.rps / options.rate, 3),
        },
        redis: { command: 'HGET', requests: raw.requests, p50Ms: round(raw.latency.p50Ms, 3), p99Ms: round(raw.latency.p99Ms, 3) },
        rounds: rounds.map((r) => ({
          rps: round(r.max.rps, 0),
          p99Ms: round(r.max.latency.p99Ms, 2),
          atRateRps: round(r.fixed.rps, 0),
          atRateP99Ms: round(r.fixed.latency.p99Ms, 2),
          redisGetRps: round(r.raw.rps, 0),
          ratio: round(r.max.rps / r.raw.rps, 3),
          serverCpuMsPerRequest: r.max.serverCpuMsPerRequest === null ? null : round(r.max.serverCpuMsPerRequest.total, 3),
        })),
      },
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.arch()}` },
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const mark = (ok: boolean) => (ok ? 'ok ' : 'MISS');
    const d = result.details;
    const rows: [string, string, string, string][] = [
      ['max rps', String(result.rps), `≥ ${TARGETS.rps}  ${mark(result.met.maxRps)}`, `${d.connections} connections, ${d.max.requests} requests in ${d.durationSeconds} s, ${d.max.non2xx} non-2xx, ${d.max.errors} errors`],
      ['  p50 / p99 (ms)', `${result.p50Ms} / ${result.p99Ms}`, '', `p90 ${d.max.p90Ms}, max ${d.max.maxMs}; CPU ms/request: server ${d.max.serverCpuMsPerRequest ?? '?'} (sys ${d.max.serverSysCpuMsPerRequest ?? '?'}), load generator ${d.max.loadGeneratorCpuMsPerRequest}`],
      [`at ${options.rate} req/s: rps`, String(result.atRate.rps), '', `${d.atRate.requests} requests, ${d.atRate.non2xx} non-2xx, ${d.atRate.errors} errors`],
      ['  p50 / p99 (ms)', `${result.atRate.p50Ms} / ${result.atRate.p99Ms}`, `p99 ≤ ${TARGETS.p99Ms}  ${mark(result.met.p99AtRate)}`, `p90 ${d.atRate.p90Ms}, max ${d.atRate.maxMs}; CPU ms/request: server ${d.atRate.serverCpuMsPerRequest ?? '?'} (sys ${d.atRate.serverSysCpuMsPerRequest ?? '?'})`],
      ['redis HGET rps', String(result.redisGetRps), '', `same values, ${d.connections} clients × 1 in flight; p50 ${d.redis.p50Ms} ms, p99 ${d.redis.p99Ms} ms`],
      ['ratio rps / redisGetRps', String(result.ratio), '', ''],
      ['response bytes', String(result.responseBytes), '', `range ${d.responseBytesRange.join('–')}, ${d.picksPerResponse} picks; cached value ${d.cachedValueBytes} bytes`],
      ['sources', Object.entries(result.sources).map(([k, v]) => `${k} ${v}`).join(', '), mark(result.met.allFromCache), `of ${500} sampled members`],
    ];
    const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length), ['metric', 'value', 'target'][c]!.length));
    const line = (r: readonly string[]) => `${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padStart(widths[1]!)}  ${r[2]!.padEnd(widths[2]!)}  ${r[3]}`.trimEnd();
    console.log(line(['metric', 'value', 'target', 'notes']));
    for (const row of rows) console.log(line(row));
    if (d.rounds.length > 1) {
      const list = (f: (r: (typeof d.rounds)[number]) => number | null) => d.rounds.map(f).join(' / ');
      console.log(`rounds (median ratio reported): rps ${list((r) => r.rps)}; p99 at ${options.rate} req/s ${list((r) => r.atRateP99Ms)} ms; redisGetRps ${list((r) => r.redisGetRps)}; ratio ${list((r) => r.ratio)}`);
    }
    console.log(`data: ${d.members} members (publication ${d.publicationId})${d.setupSeconds === null ? ', reused' : `, set up in ${d.setupSeconds} s`}`);
    console.log(`machine: ${result.machine.cpus} cpus (${result.machine.cpuModel}), node ${result.machine.node}, ${result.machine.platform}`);
  } finally {
    if (server) await server.stop();
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
