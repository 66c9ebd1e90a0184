/**
 * A try that finishes while PostgreSQL is unreachable keeps its result: the worker logs the failed
 * commit and retries it until the database is back, and the try is neither reaped as a zombie nor
 * run again. PostgreSQL "goes down" behind a TCP proxy (test/support/tcp-proxy.ts); the shared
 * server stays up for the rest of the suite.
 */
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { getTaskInstance } from '../../core/db/queries/task-instances.ts';
import type { TaskWorker } from '../../core/executor/task-worker.ts';
import { createRuntime, createScheduler, createTaskWorker, type Runtime } from '../../core/runtime.ts';
import type { Scheduler } from '../../core/scheduler/scheduler.ts';
import { Harness } from '../support/harness.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { linesOf, pause, tempDir, waitFor } from './proc-support.ts';

const OPS_DAGS = fileURLToPath(new URL('../fixtures/dags-ops', import.meta.url));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A logger whose JSON lines are kept, to check what the worker said. */
function capturingLogger(): { logger: Logger; messages: () => { level: number; msg: string }[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  return { logger, messages: () => lines.map((line) => JSON.parse(line) as { level: number; msg: string }) };
}

interface OutageOptions {
  /** PostgreSQL is down for the scheduler as well as the worker (else only the worker is cut off). */
  schedulerBehindProxy: boolean;
  heartbeatMs: number;
  zombieThresholdMs: number;
  /** How long PostgreSQL stays unreachable once the task is running. */
  outageMs: number;
}

/**
 * A harness (its own database, prefix, and a direct connection for the test's checks) plus a
 * second runtime whose PostgreSQL connections go through a proxy the test can cut: the worker
 * always uses it, the scheduler when `schedulerBehindProxy` (PostgreSQL down for everyone).
 */
async function setUp(options: OutageOptions) {
  const harness = await Harness.start({
    dagsFolder: OPS_DAGS,
    workers: {},
    scheduler: !options.schedulerBehindProxy,
    config: { heartbeatMs: options.heartbeatMs, zombieThresholdMs: options.zombieThresholdMs },
  });
  cleanups.push(() => harness.close());
  const target = new URL(harness.config.databaseUrl);
  const proxy = await TcpProxy.start({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
  cleanups.push(() => proxy.close());
  const runtime: Runtime = createRuntime({ ...harness.config, databaseUrl: proxy.rewrite(harness.config.databaseUrl) }, { name: 'outage' });
  await runtime.dags.load();
  const stopped: { scheduler: Scheduler | null; worker: TaskWorker | null } = { scheduler: null, worker: null };
  cleanups.push(async () => {
    proxy.restore();
    await stopped.scheduler?.stop();
    await stopped.worker?.close();
    await runtime.close();
  });
  const { logger, messages } = capturingLogger();
  stopped.worker = createTaskWorker(runtime, { pool: 'default', concurrency: 1, logger }).start();
  if (options.schedulerBehindProxy) stopped.scheduler = createScheduler(runtime, { requeueAfterMs: 2000 }).start();
  const tmp = await tempDir('ops-db-outage');
  cleanups.push(tmp.remove);
  return { harness, proxy, dir: tmp.dir, messages };
}

async function finishDuringOutage(options: OutageOptions) {
  const { harness, proxy, dir, messages } = await setUp(options);
  const sleepMs = 1500;
  const run = await harness.trigger('ops_finish', { conf: { dir, sleepMs } });
  await waitFor('"slow" to be running', async () => (await getTaskInstance(harness.db, run.dagRunId, 'slow'))?.state === 'running', { timeoutMs: 30_000 });

  proxy.cut();
  // Longer than the task: it finishes with PostgreSQL down, and its first commits fail.
  expect(options.outageMs).toBeGreaterThan(sleepMs + 1000);
  await pause(options.outageMs);
  expect(linesOf(dir, 'body.log')).toEqual(['try 1']);
  expect(await getTaskInstance(harness.db, run.dagRunId, 'slow')).toMatchObject({ state: 'running', tryNumber: 1 });
  proxy.restore();

  const finished = await harness.waitForRun(run.dagRunId, { timeoutMs: 30_000 });
  const instances = await harness.taskInstances(run.dagRunId);
  const slow = instances.find((ti) => ti.taskId === 'slow');
  // Recorded once, by try 1: not reaped as a zombie, not run again.
  expect(slow, JSON.stringify(instances)).toMatchObject({ state: 'success', tryNumber: 1, output: { tryNumber: 1, value: 42 }, error: null });
  expect((await harness.tries(run.dagRunId, 'slow')).map((t) => [t.tryNumber, t.state])).toEqual([[1, 'success']]);
  expect(linesOf(dir, 'body.log')).toEqual(['try 1']);
  // The downstream task got the output, and the run succeeded.
  expect(instances.find((ti) => ti.taskId === 'after')).toMatchObject({ state: 'success', output: { doubled: 84 } });
  expect(finished.state).toBe('success');
  // The try's own log lines were kept with it.
  const log = (await harness.logs(run.dagRunId, 'slow', 1)).map((l) => l.message);
  expect(log).toContain('slept; returning 42');
  expect(log.some((m) => /^try 1 success after \d+ ms$/.test(m))).toBe(true);
  // The worker said what happened: the failed commits (warn), then the recovery.
  const said = messages();
  expect(said.filter((m) => m.level === 40 && m.msg.startsWith('could not record the outcome of a try')).length).toBeGreaterThanOrEqual(1);
  expect(said.some((m) => m.msg === 'recorded the outcome of a try once PostgreSQL was back')).toBe(true);
}

describe('a try that finishes while PostgreSQL is unreachable', { timeout: 120_000 }, () => {
  it('is recorded once PostgreSQL is back, when it was down for the scheduler too (no zombie reaped on its return)', async () => {
    // A heartbeat (and a retry of the commit) only every 2 s, while the scheduler passes every
    // 100 ms: once PostgreSQL is back the scheduler sees the stale heartbeat first, and must leave
    // the workers time to heartbeat (and record) before it reaps anything.
    // Longer than the zombie threshold: the try's heartbeat is stale when PostgreSQL is back.
    await finishDuringOutage({ schedulerBehindProxy: true, heartbeatMs: 2000, zombieThresholdMs: 4000, outageMs: 5000 });
  });

  it('is recorded once its worker reaches PostgreSQL again, within the zombie threshold', async () => {
    // Only the worker is cut off; the scheduler (direct) would reap the try after 10 s.
    await finishDuringOutage({ schedulerBehindProxy: false, heartbeatMs: 200, zombieThresholdMs: 10_000, outageMs: 4000 });
  });
});
