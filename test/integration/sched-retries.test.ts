import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.ts';

const DAGS = fileURLToPath(new URL('../fixtures/dags-sched/retries', import.meta.url));

describe('retries and exponential backoff', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: DAGS, workers: { default: 4 } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('fails tries 1 and 2, succeeds on try 3, waiting ≥ 200 ms then ≥ 400 ms between tries', async () => {
    const { dagRunId } = await harness.trigger('sched_retry');
    const run = await harness.waitForRun(dagRunId, { timeoutMs: 45_000 });
    expect(run.state).toBe('success');

    const [ti] = await harness.taskInstances(dagRunId);
    expect(ti).toMatchObject({ taskId: 'flaky', state: 'success', tryNumber: 3, maxTries: 3, output: { succeededOnTry: 3 }, error: null });

    const tries = await harness.tries(dagRunId, 'flaky');
    expect(tries.map((t) => [t.tryNumber, t.state])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'success'],
    ]);
    expect(tries[0]!.error).toContain('flaky failure on try 1');
    expect(tries[1]!.error).toContain('flaky failure on try 2');
    expect(tries[2]!.error).toBeNull();
    expect(tries[2]!.output).toEqual({ succeededOnTry: 3 });

    // Lower bounds only: the scheduler tick adds slack on top of the delay. 5 ms for timestamp rounding.
    const gap = (i: number) => tries[i + 1]!.startDate!.getTime() - tries[i]!.endDate!.getTime();
    expect(gap(0)).toBeGreaterThanOrEqual(195);
    expect(gap(1)).toBeGreaterThanOrEqual(395);

    for (const tryNumber of [1, 2, 3]) {
      const messages = (await harness.logs(dagRunId, 'flaky', tryNumber)).map((l) => l.message);
      expect(messages).toContain(`attempt ${tryNumber} of 3`);
      if (tryNumber < 3) expect(messages.some((m) => m.includes(`flaky failure on try ${tryNumber}`))).toBe(true);
      else expect(messages.some((m) => m.includes('flaky failure'))).toBe(false);
    }
  });

  it('a task that always fails ends failed after retries + 1 tries, and fails its run', async () => {
    const { dagRunId } = await harness.trigger('sched_retry_exhausted');
    const run = await harness.waitForRun(dagRunId, { timeoutMs: 45_000 });
    expect(run.state).toBe('failed');

    const [ti] = await harness.taskInstances(dagRunId);
    expect(ti).toMatchObject({ taskId: 'always_fails', state: 'failed', tryNumber: 2, maxTries: 2, nextRetryAt: null });
    expect(ti!.error).toContain('permanent failure on try 2');

    const tries = await harness.tries(dagRunId, 'always_fails');
    expect(tries.map((t) => [t.tryNumber, t.state])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
    ]);
    expect(tries[1]!.startDate!.getTime() - tries[0]!.endDate!.getTime()).toBeGreaterThanOrEqual(95);
    for (const tryNumber of [1, 2]) {
      const messages = (await harness.logs(dagRunId, 'always_fails', tryNumber)).map((l) => l.message);
      expect(messages).toContain(`always_fails attempt ${tryNumber}`);
      expect(messages.some((m) => m.includes(`permanent failure on try ${tryNumber}`))).toBe(true);
    }
    expect(await harness.logs(dagRunId, 'always_fails', 3)).toEqual([]);
  });
});
