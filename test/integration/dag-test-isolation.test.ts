import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDagTest } from '../../cli/dag-test.ts';
import { getDagRun } from '../../core/db/queries/dag-runs.ts';
import type { TryOutcome } from '../../core/state/task-tries.ts';
import { Harness } from '../support/harness.ts';

describe('dags test next to a live scheduler and worker', () => {
  let harness: Harness;
  const seenByLiveWorker: TryOutcome[] = [];

  beforeAll(async () => {
    // A live installation on the same database and Redis: scheduler passes every 100 ms.
    harness = await Harness.start();
    for (const worker of harness.workers) worker.on('tryFinished', (outcome) => seenByLiveWorker.push(outcome));
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("runs every try of its run on its own workers, even those the live scheduler queues", async () => {
    // The dags-test scheduler passes only every 5 s, so the live scheduler (every 100 ms) is the
    // one that queues the retry once its 300 ms delay is up.
    const result = await runDagTest(harness.config, 'retry_once', { timeoutMs: 30_000, schedulerIntervalMs: 5000 });
    expect(result.state).toBe('success');
    expect(result.tasks.map((t) => [t.taskId, t.state, t.tryNumber])).toEqual([
      ['flaky', 'success', 2],
      ['after', 'success', 1],
    ]);
    const run = await getDagRun(harness.db, 'retry_once', result.runId);
    expect(run?.queuePrefix).toMatch(new RegExp(`^${harness.config.queuePrefix}-test-`));
    expect(seenByLiveWorker.filter((o) => o.dagRunId === run?.id)).toEqual([]);
    // The live worker still serves ordinary runs.
    const ordinary = await harness.trigger('chain');
    expect((await harness.waitForRun(ordinary.dagRunId)).state).toBe('success');
    expect(seenByLiveWorker.some((o) => o.dagRunId === ordinary.dagRunId)).toBe(true);
  });
});
