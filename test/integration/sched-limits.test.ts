import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setDagPaused } from '../../core/db/queries/dags.ts';
import { Harness } from '../support/harness.ts';

const DAGS = fileURLToPath(new URL('../fixtures/dags-sched/limits', import.meta.url));

/** The most intervals overlapping at any instant ([start, end), ends before starts at a tie). */
function maxOverlap(intervals: { start: number; end: number }[]): number {
  const events = intervals.flatMap((i) => [
    { at: i.start, delta: 1 },
    { at: i.end, delta: -1 },
  ]);
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let current = 0;
  let max = 0;
  for (const e of events) {
    current += e.delta;
    max = Math.max(max, current);
  }
  return max;
}

describe('concurrency limits and pause', () => {
  let harness: Harness;
  beforeAll(async () => {
    // More worker slots than the DAG allows, so only maxActiveTasks can hold tasks back.
    harness = await Harness.start({ dagsFolder: DAGS, workers: { default: 8 } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('maxActiveTasks: 2 keeps at most two task instances running at once, across two runs of six', async () => {
    const first = await harness.trigger('sched_max_tasks', { logicalDate: new Date(Date.now() - 1000) });
    const second = await harness.trigger('sched_max_tasks');
    const tis = [];
    for (const { dagRunId } of [first, second]) {
      expect((await harness.waitForRun(dagRunId)).state).toBe('success');
      tis.push(...(await harness.taskInstances(dagRunId)));
    }
    expect(tis).toHaveLength(12);
    expect(tis.every((t) => t.state === 'success' && t.tryNumber === 1)).toBe(true);

    const fromRows = tis.map((t) => ({ start: t.startDate!.getTime(), end: t.endDate!.getTime() }));
    expect(maxOverlap(fromRows)).toBeLessThanOrEqual(2);
    const fromOutputs = tis.map((t) => {
      const output = t.output as { startedAt: number; endedAt: number };
      expect(output.endedAt - output.startedAt).toBeGreaterThanOrEqual(140);
      return { start: output.startedAt, end: output.endedAt };
    });
    expect(maxOverlap(fromOutputs)).toBeLessThanOrEqual(2);
    // Six waves of two 150 ms tasks at least.
    const span = Math.max(...fromRows.map((r) => r.end)) - Math.min(...fromRows.map((r) => r.start));
    expect(span).toBeGreaterThanOrEqual(6 * 140);
  });

  it('maxActiveRuns: 1 keeps a second manual run queued until the first finishes', async () => {
    const first = await harness.trigger('sched_max_runs', { logicalDate: new Date(Date.now() - 1000) });
    const second = await harness.trigger('sched_max_runs');
    expect(first.state).toBe('running');
    expect(second.state).toBe('queued');
    expect((await harness.run('sched_max_runs', second.runId))?.state).toBe('queued');

    const firstDone = await harness.waitForRun(first.dagRunId);
    const secondDone = await harness.waitForRun(second.dagRunId);
    expect(firstDone.state).toBe('success');
    expect(secondDone.state).toBe('success');
    expect(secondDone.startDate!.getTime()).toBeGreaterThanOrEqual(firstDone.endDate!.getTime());

    const [firstTi] = await harness.taskInstances(first.dagRunId);
    const [secondTi] = await harness.taskInstances(second.dagRunId);
    expect(secondTi!.startDate!.getTime()).toBeGreaterThanOrEqual(firstTi!.endDate!.getTime());
  });

  it('a paused DAG keeps its manual run queued; unpausing lets it run', async () => {
    const { dagRunId, runId, state } = await harness.trigger('sched_paused');
    expect(state).toBe('queued');
    // Several scheduler passes (100 ms apart) go by without starting it.
    await sleep(1_000);
    expect((await harness.run('sched_paused', runId))?.state).toBe('queued');
    expect(await harness.taskInstances(dagRunId)).toEqual([]);

    expect(await setDagPaused(harness.db, 'sched_paused', false)).toBe(true);
    const run = await harness.waitForRun(dagRunId);
    expect(run.state).toBe('success');
    expect(await harness.taskStates(dagRunId)).toEqual({ only: 'success' });
  });
});
