/**
 * Worker processes that die or are stopped mid-task: a real `flywheel worker` child process,
 * the scheduler in this process, real PostgreSQL and Redis.
 */
import { Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { jobIdFor } from '../../core/executor/task-job.ts';
import { Harness, type HarnessOptions } from '../support/harness.ts';
import { Children, PROC_DAGS, linesOf, tempDir, waitFor } from './proc-support.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Children first (they hold connections to the harness's database), then the harness.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(options: HarnessOptions = {}) {
  const harness = await Harness.start({
    dagsFolder: PROC_DAGS,
    workers: {},
    ...options,
    config: { heartbeatMs: 200, zombieThresholdMs: 2000, ...options.config },
  });
  cleanups.push(() => harness.close());
  const tmp = await tempDir('proc-worker');
  cleanups.push(tmp.remove);
  const children = new Children();
  cleanups.push(() => children.killAll());
  return { harness, dir: tmp.dir, children };
}

async function onlyInstance(harness: Harness, dagRunId: number) {
  const instances = await harness.taskInstances(dagRunId);
  expect(instances).toHaveLength(1);
  return instances[0]!;
}

describe('a worker process killed mid-task (SIGKILL)', { timeout: 120_000 }, () => {
  it('is reaped as a zombie and retried once: the task body runs exactly twice, and a redelivered stale job is skipped', async () => {
    const { harness, dir, children } = await setUp();
    const first = children.start(['worker', '--pool', 'default', '--concurrency', '1'], harness.childEnv());
    const run = await harness.trigger('proc_zombie', { conf: { dir, sleepMs: 30_000 } });

    await waitFor('try 1 to start in the first worker child', () => linesOf(dir, 'body.log').length >= 1, {
      timeoutMs: 30_000,
      needs: [first],
    });
    const running = await onlyInstance(harness, run.dagRunId);
    expect(running).toMatchObject({ state: 'running', tryNumber: 1, pid: first.pid });
    expect(linesOf(dir, 'body.log')).toEqual([`try 1 pid ${first.pid}`]);

    first.signal('SIGKILL');
    expect(await first.waitExit(10_000)).toEqual({ code: null, signal: 'SIGKILL' });
    const second = children.start(['worker', '--pool', 'default', '--concurrency', '1'], harness.childEnv());

    const finished = await harness.waitForRun(run.dagRunId, { timeoutMs: 40_000 });
    expect(finished.state).toBe('success');
    const instance = await onlyInstance(harness, run.dagRunId);
    expect(instance).toMatchObject({ state: 'success', tryNumber: 2, maxTries: 2, pid: second.pid, output: { tryNumber: 2, pid: second.pid } });

    const tries = await harness.tries(run.dagRunId, 'sleeper');
    expect(tries.map((t) => [t.tryNumber, t.state])).toEqual([
      [1, 'failed'],
      [2, 'success'],
    ]);
    expect(tries[0]!.error).toMatch(/zombie: no heartbeat/);
    expect(tries[0]!.pid).toBe(first.pid);
    const reapLog = await harness.logs(run.dagRunId, 'sleeper', 1);
    expect(reapLog.map((l) => l.message).join('\n')).toMatch(/zombie: no heartbeat.*marked up_for_retry by the scheduler/);
    expect(linesOf(dir, 'body.log')).toEqual([`try 1 pid ${first.pid}`, `try 2 pid ${second.pid}`]);

    // BullMQ still holds try 1's job as `active`, locked by the dead worker. Once that lock
    // expires (lockDuration, 30 s) a stalled check moves the job back to `wait` and a live
    // worker gets it again. Do now what BullMQ would do then: drop the lock, run the stalled
    // check, and see the redelivered try skipped by its compare-and-set start.
    const prefix = harness.config.queuePrefix;
    const staleId = jobIdFor({ dagId: 'proc_zombie', runId: run.runId, dagRunId: run.dagRunId, taskId: 'sleeper', tryNumber: 1 });
    const queue = harness.runtime.executor.queue('default');
    const stale = await queue.getJob(staleId);
    expect(await stale?.getState()).toBe('active');
    const redis = harness.redisClient();
    // A checker with a short stalledInterval, so its check can run twice in quick succession
    // (a job is moved on the check after the one that first saw it active without a lock).
    const checker = new Worker('default', null, { connection: harness.runtime.redis, prefix, autorun: false, stalledInterval: 200 });
    try {
      const stalled: string[] = [];
      checker.on('stalled', (jobId) => stalled.push(jobId));
      await redis.del(`${prefix}:default:${staleId}:lock`, `${prefix}:default:stalled-check`);
      await checker.startStalledCheckTimer();
      await waitFor('the stale try-1 job to be moved back to wait', () => stalled.includes(staleId), { timeoutMs: 5000 });
    } finally {
      await checker.close();
      redis.disconnect();
    }
    // The state first, then the job: a job read before its state is (a snapshot taken while it
    // was still active) has no return value yet.
    const redelivered = await waitFor('the redelivered try-1 job to complete', async () =>
      (await queue.getJobState(staleId)) === 'completed' ? ((await queue.getJob(staleId)) ?? null) : null,
    { timeoutMs: 15_000, needs: [second] });
    expect(redelivered.returnvalue).toBe('skipped: the try is no longer queued');

    expect(linesOf(dir, 'body.log')).toHaveLength(2);
    expect(await onlyInstance(harness, run.dagRunId)).toMatchObject({ state: 'success', tryNumber: 2 });
    expect(await harness.tries(run.dagRunId, 'sleeper')).toHaveLength(2);
    expect(second.alive).toBe(true);
  });
});

describe('a worker process stopped with SIGTERM', { timeout: 120_000 }, () => {
  it('finishes its running try, commits it and exits 0', async () => {
    const { harness, dir, children } = await setUp();
    const worker = children.start(['worker', '--pool', 'default'], harness.childEnv());
    const run = await harness.trigger('proc_sigterm', { conf: { dir, workMs: 1000 } });
    await waitFor('the try to start in the worker child', () => linesOf(dir, 'body.log').length >= 1, { timeoutMs: 30_000, needs: [worker] });

    worker.signal('SIGTERM');
    expect(await worker.waitExit(15_000)).toEqual({ code: 0, signal: null });
    // Committed before the process exited: nothing else ran the task.
    expect(linesOf(dir, 'done.log')).toEqual([`try 1 pid ${worker.pid}`]);
    expect(await onlyInstance(harness, run.dagRunId)).toMatchObject({ state: 'success', tryNumber: 1, maxTries: 1 });
    expect((await harness.waitForRun(run.dagRunId, { timeoutMs: 5000 })).state).toBe('success');
    expect((await harness.tries(run.dagRunId, 'work')).map((t) => t.state)).toEqual(['success']);
  });

  for (const ignoreSignal of [false, true]) {
    it(`past the grace period hands the try back (no retry consumed) and exits promptly${ignoreSignal ? ', even when the task ignores ctx.signal' : ''}`, async () => {
      const { harness, dir, children } = await setUp();
      const worker = children.start(['worker', '--pool', 'default'], { ...harness.childEnv(), FLYWHEEL_SHUTDOWN_GRACE_MS: '500' });
      const run = await harness.trigger('proc_sigterm', { conf: { dir, workMs: 30_000, ignoreSignal } });
      await waitFor('the try to start in the worker child', () => linesOf(dir, 'body.log').length >= 1, { timeoutMs: 30_000, needs: [worker] });

      const signalledAt = Date.now();
      worker.signal('SIGTERM');
      expect(await worker.waitExit(10_000)).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalledAt).toBeLessThan(6000); // grace 500 ms, then hand back, commit, exit

      // Handed back: try 1 is archived as failed, and the task is queued again for try 2
      // with one more try allowed (retries: 0 had maxTries 1).
      const handedBack = await onlyInstance(harness, run.dagRunId);
      expect(handedBack).toMatchObject({ state: 'queued', tryNumber: 2, maxTries: 2 });
      const [firstTry] = await harness.tries(run.dagRunId, 'work');
      expect(firstTry).toMatchObject({ tryNumber: 1, state: 'failed' });
      expect(firstTry!.error).toMatch(/shutting down; the try is handed back/);
      expect(linesOf(dir, 'done.log')).toEqual([]);

      harness.startWorker('default', 1);
      expect((await harness.waitForRun(run.dagRunId, { timeoutMs: 20_000 })).state).toBe('success');
      expect(await onlyInstance(harness, run.dagRunId)).toMatchObject({ state: 'success', tryNumber: 2, maxTries: 2 });
      expect((await harness.tries(run.dagRunId, 'work')).map((t) => [t.tryNumber, t.state])).toEqual([
        [1, 'failed'],
        [2, 'success'],
      ]);
      expect(linesOf(dir, 'body.log')).toEqual([`try 1 pid ${worker.pid}`, `try 2 pid ${process.pid}`]);
      expect(linesOf(dir, 'done.log')).toEqual([`try 2 pid ${process.pid}`]);
    });
  }
});
