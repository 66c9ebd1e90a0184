/**
 * Sandboxed tries: CPU-bound task bodies in a child process, so the worker's own event loop
 * (BullMQ lock renewal, heartbeats) keeps running; and a runaway child killed at its timeout.
 * The worker is built here with a 1 s BullMQ lock, so a stalled event loop shows at once.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { getTaskInstance } from '../../core/db/queries/task-instances.ts';
import { jobIdFor } from '../../core/executor/task-job.ts';
import { TaskWorker } from '../../core/executor/task-worker.ts';
import { Harness, type HarnessOptions } from '../support/harness.ts';
import { PROC_DAGS, linesOf, pidExists, tempDir, waitFor } from './proc-support.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(config: HarnessOptions['config'] = {}) {
  const harness = await Harness.start({ dagsFolder: PROC_DAGS, workers: {}, config: { heartbeatMs: 200, zombieThresholdMs: 2000, ...config } });
  cleanups.push(() => harness.close());
  const worker = new TaskWorker({
    pool: 'default',
    concurrency: 2,
    connection: harness.runtime.redis,
    prefix: harness.config.queuePrefix,
    db: harness.db,
    dags: harness.runtime.dags,
    executor: harness.runtime.executor,
    heartbeatMs: harness.config.heartbeatMs,
    xcomMaxBytes: harness.config.xcomMaxBytes,
    shutdownGraceMs: harness.config.shutdownGraceMs,
    logger: harness.runtime.logger,
    lockDurationMs: 1000,
  }).start();
  harness.workers.push(worker); // closed by harness.close()
  const tmp = await tempDir('proc-sandbox');
  cleanups.push(tmp.remove);
  return { harness, dir: tmp.dir };
}

/** Samples a running task instance's heartbeat until it leaves `running`: the distinct values seen, and the longest gap between them. */
async function watchHeartbeats(harness: Harness, dagRunId: number, taskId: string) {
  await waitFor(`"${taskId}" to be running`, async () => (await getTaskInstance(harness.db, dagRunId, taskId))?.state === 'running', { timeoutMs: 30_000 });
  const seen = new Set<number>();
  for (;;) {
    const ti = await getTaskInstance(harness.db, dagRunId, taskId);
    if (ti?.state !== 'running') break;
    if (ti.heartbeatAt) seen.add(ti.heartbeatAt.getTime());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const beats = [...seen].sort((a, b) => a - b);
  const gaps = beats.slice(1).map((t, i) => t - beats[i]!);
  return { beats: beats.length, longestGapMs: Math.max(0, ...gaps) };
}

/** Measures this process's longest event-loop stall (the worker runs in this process) while `work` runs. */
async function longestStallMs<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 20 });
  histogram.enable();
  try {
    const result = await work();
    return { result, stallMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

async function bullJobState(harness: Harness, run: { dagRunId: number; runId: string }, dagId: string, taskId: string) {
  const job = await harness.runtime.executor.queue('default').getJob(jobIdFor({ dagId, runId: run.runId, dagRunId: run.dagRunId, taskId, tryNumber: 1 }));
  return { state: await job?.getState(), returnvalue: job?.returnvalue as unknown };
}

describe('a sandboxed CPU-bound task', { timeout: 90_000 }, () => {
  it('does not stall its worker: one try, heartbeats and the BullMQ lock kept alive, child log lines stored', async () => {
    const { harness, dir } = await setUp();
    const { result: [run, heartbeats], stallMs } = await longestStallMs(async () => {
      const triggered = await harness.trigger('proc_sandbox_busy', { conf: { dir, busyMs: 3000 } });
      return [triggered, await watchHeartbeats(harness, triggered.dagRunId, 'crunch')] as const;
    });
    expect((await harness.waitForRun(run.dagRunId, { timeoutMs: 30_000 })).state).toBe('success');

    const [ti] = await harness.taskInstances(run.dagRunId);
    expect(ti).toMatchObject({ state: 'success', tryNumber: 1, pid: process.pid });
    expect(ti!.durationMs).toBeGreaterThanOrEqual(3000);
    const childPid = (ti!.output as { pid: number }).pid;
    expect(childPid).not.toBe(process.pid);
    expect(linesOf(dir, 'body.log')).toEqual([`try 1 pid ${childPid}`]);
    expect(await harness.tries(run.dagRunId, 'crunch')).toHaveLength(1);

    // The worker's event loop ran throughout: never stalled for long, heartbeats every ~200 ms,
    // no gap near the 2 s zombie threshold…
    expect(stallMs).toBeLessThan(1500); // vs ≥ 2500 in the control below
    expect(heartbeats.beats).toBeGreaterThanOrEqual(5);
    expect(heartbeats.longestGapMs).toBeLessThan(1500);
    // …and its 1 s BullMQ lock was renewed for 3 s, so the job completed normally.
    expect(await bullJobState(harness, run, 'proc_sandbox_busy', 'crunch')).toEqual({ state: 'completed', returnvalue: 'success' });

    const lines = await harness.logs(run.dagRunId, 'crunch', 1);
    const messages = lines.map((l) => `${l.level} ${l.message}`);
    expect(messages).toContain(`info running in a sandboxed process (pid ${childPid})`);
    expect(messages).toContain(`info crunching in pid ${childPid}`);
    expect(messages).toContain(`warn crunched some numbers in pid ${childPid}`);
    expect(messages.at(-1)).toMatch(/^info try 1 success after \d+ ms$/);
  });

  it('control: the same body run in the worker thread stalls its event loop and loses the 1 s BullMQ lock', async () => {
    // A high zombie threshold: this checks what the stall does to the worker, not the reaper.
    const { harness, dir } = await setUp({ zombieThresholdMs: 60_000 });
    const { result: run, stallMs } = await longestStallMs(async () => {
      const triggered = await harness.trigger('proc_inproc_busy', { conf: { dir, busyMs: 3000 } });
      await harness.waitForRun(triggered.dagRunId, { timeoutMs: 30_000 });
      return triggered;
    });
    expect((await harness.waitForRun(run.dagRunId)).state).toBe('success');
    expect(linesOf(dir, 'body.log')).toEqual([`try 1 pid ${process.pid}`]);
    expect(stallMs).toBeGreaterThanOrEqual(2500);
    const job = await bullJobState(harness, run, 'proc_inproc_busy', 'crunch');
    // Its lock expired while the thread spun, so BullMQ refused to complete it: still `active`
    // until a stalled check hands it to a worker again (whose compare-and-set start skips it).
    expect(job.state).toBe('active');
  });

  it('past its executionTimeout is killed and fails with a timeout error', async () => {
    const { harness, dir } = await setUp();
    const run = await harness.trigger('proc_sandbox_timeout', { conf: { dir, busyMs: 20_000 } });
    const pidFile = path.join(dir, 'runaway.pid');
    const finished = await harness.waitForRun(run.dagRunId, { timeoutMs: 30_000 });
    const messages = (await harness.logs(run.dagRunId, 'runaway', 1)).map((l) => l.message);
    const forked = messages.map((m) => /^running in a sandboxed process \(pid (\d+)\)$/.exec(m)).find(Boolean);
    const pid = Number(forked?.[1] ?? 0);
    try {
      expect(pid, messages.join('\n')).toBeGreaterThan(0);
      expect(pid).not.toBe(process.pid);
      // The body ran in that child (it wrote its pid and logged it), then spun past the timeout.
      expect(readFileSync(pidFile, 'utf8')).toBe(String(pid));
      expect(messages).toContain(`runaway pid ${pid}`);
      expect(finished.state).toBe('failed');
      const [ti] = await harness.taskInstances(run.dagRunId);
      expect(ti).toMatchObject({ state: 'failed', tryNumber: 1 });
      expect(ti!.error).toMatch(/TaskTimeoutError: task ran past its executionTimeout of 5000 ms/);
      expect(ti!.durationMs).toBeGreaterThanOrEqual(5000);
      expect(ti!.durationMs).toBeLessThan(10_000);
      expect(messages.some((m) => m.includes('executionTimeout of 5000 ms'))).toBe(true);
      await waitFor(`sandboxed process ${pid} to be gone`, () => !pidExists(pid), { timeoutMs: 5000 });
    } finally {
      if (pid > 0 && pidExists(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
