import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.ts';

const DAGS = fileURLToPath(new URL('../fixtures/dags-sched/rules', import.meta.url));

describe('trigger rules end to end', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: DAGS, workers: { default: 4 } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  async function byTask(dagRunId: number) {
    return Object.fromEntries((await harness.taskInstances(dagRunId)).map((t) => [t.taskId, t]));
  }

  it('train fails: fallback runs, rank is upstream_failed, publish and cleanup run, the run is green', async () => {
    const { dagRunId } = await harness.trigger('sched_rules', { conf: { failTrain: true } });
    const run = await harness.waitForRun(dagRunId);
    // Leaves (publish, cleanup) decide the run's state; the failed train stays red.
    expect(run.state).toBe('success');
    expect(await harness.taskStates(dagRunId)).toEqual({
      train: 'failed',
      rank: 'upstream_failed',
      fallback: 'success',
      publish: 'success',
      cleanup: 'success',
    });
    const tis = await byTask(dagRunId);
    expect(tis.train!.error).toContain('training diverged');
    expect(tis.rank).toMatchObject({ tryNumber: 0, output: null });
    expect(tis.publish!.output).toEqual({ published: 'heuristics' });
    expect(tis.cleanup).toMatchObject({ tryNumber: 1, output: { cleaned: true } });
    // all_done waited for train to finish before running.
    expect(tis.cleanup!.startDate!.getTime()).toBeGreaterThanOrEqual(tis.train!.endDate!.getTime());
    expect(tis.publish!.startDate!.getTime()).toBeGreaterThanOrEqual(tis.fallback!.endDate!.getTime());
  });

  it('train succeeds: fallback is skipped, rank and publish run, cleanup runs', async () => {
    const { dagRunId } = await harness.trigger('sched_rules', { conf: { failTrain: false } });
    const run = await harness.waitForRun(dagRunId);
    expect(run.state).toBe('success');
    expect(await harness.taskStates(dagRunId)).toEqual({
      train: 'success',
      rank: 'success',
      fallback: 'skipped',
      publish: 'success',
      cleanup: 'success',
    });
    const tis = await byTask(dagRunId);
    expect(tis.fallback).toMatchObject({ tryNumber: 0, output: null });
    expect(tis.publish!.output).toEqual({ published: 'ranker-v1' });
    expect(tis.rank!.output).toEqual({ source: 'ranker-v1' });
  });
});
