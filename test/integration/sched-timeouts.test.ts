import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.ts';

const DAGS = fileURLToPath(new URL('../fixtures/dags-sched/timeouts', import.meta.url));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('executionTimeout', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: DAGS, workers: { default: 4 } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('aborts ctx.signal and fails the try, whether the task listens, ignores it, or spins in a sandbox', async () => {
    const triggeredAt = Date.now();
    const { dagRunId } = await harness.trigger('sched_timeout');
    const run = await harness.waitForRun(dagRunId, { timeoutMs: 45_000 });
    expect(run.state).toBe('failed');
    // The 30 s sleep, the 5 s sleep and the 120 s spin were all cut short.
    expect(Date.now() - triggeredAt).toBeLessThan(25_000);

    const tis = Object.fromEntries((await harness.taskInstances(dagRunId)).map((t) => [t.taskId, t]));
    for (const taskId of ['cooperative', 'stubborn', 'sandboxed_spin']) {
      expect(tis[taskId], taskId).toMatchObject({ state: 'failed', tryNumber: 1, output: null });
      expect(tis[taskId]!.error, taskId).toContain('executionTimeout');
    }

    // In-process tries: failed at ~300 ms, not at the end of their sleeps.
    for (const taskId of ['cooperative', 'stubborn']) {
      const ti = tis[taskId]!;
      expect(ti.error).toContain('300 ms');
      expect(ti.durationMs, taskId).toBeGreaterThanOrEqual(290);
      expect(ti.durationMs, taskId).toBeLessThan(4_000);
    }

    // The cooperative task saw the abort through ctx.signal.
    const cooperative = (await harness.logs(dagRunId, 'cooperative', 1)).map((l) => l.message);
    expect(cooperative).toContain('sleeping 30 s, listening to ctx.signal');
    const observed = cooperative.find((m) => m.startsWith('signal observed:'));
    expect(observed).toBeDefined();
    expect(observed).toContain('aborted=true');
    expect(observed).toContain('executionTimeout');
    expect(cooperative).not.toContain('woke up (should not happen)');

    // A timed-out try is retried like any other failure.
    expect(tis.timeout_then_ok).toMatchObject({ state: 'success', tryNumber: 2, output: { try: 2 } });
    const retried = await harness.tries(dagRunId, 'timeout_then_ok');
    expect(retried.map((t) => [t.tryNumber, t.state])).toEqual([
      [1, 'failed'],
      [2, 'success'],
    ]);
    expect(retried[0]!.error).toContain('executionTimeout');

    // The sandboxed child was killed at its 2 s timeout.
    const spin = tis.sandboxed_spin!;
    expect(spin.error).toContain('2000 ms');
    expect(spin.durationMs).toBeGreaterThanOrEqual(1_990);
    expect(spin.durationMs).toBeLessThan(10_000);
    const spinLogs = (await harness.logs(dagRunId, 'sandboxed_spin', 1)).map((l) => l.message);
    const pidLine = spinLogs.find((m) => m.startsWith('running in a sandboxed process'));
    const pid = Number(/pid (\d+)/.exec(pidLine ?? '')?.[1]);
    expect(pid).toBeGreaterThan(0);
    const deadline = Date.now() + 5_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(isAlive(pid)).toBe(false);
  });
});
