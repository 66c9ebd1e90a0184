import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearTasks } from '../../core/scheduler/actions.ts';
import { Harness } from '../support/harness.ts';

const DAGS = fileURLToPath(new URL('../fixtures/dags-sched/clear', import.meta.url));
const DAG_ID = 'sched_clear';

describe('clearing task instances', () => {
  let harness: Harness;
  let tmp: string;
  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: DAGS, workers: { default: 4 } });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'flywheel-sched-clear-'));
  });
  afterAll(async () => {
    await harness?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function byTask(dagRunId: number) {
    return Object.fromEntries((await harness.taskInstances(dagRunId)).map((t) => [t.taskId, t]));
  }

  /** A run whose task b failed (its marker is missing): c upstream_failed, the run failed. */
  async function failedRun(name: string) {
    const dir = path.join(tmp, name);
    await mkdir(dir, { recursive: true });
    const run = await harness.trigger(DAG_ID, { conf: { dir } });
    const finished = await harness.waitForRun(run.dagRunId);
    expect(finished.state).toBe('failed');
    const tis = await byTask(run.dagRunId);
    expect(tis.a).toMatchObject({ state: 'success', tryNumber: 1 });
    expect(tis.b).toMatchObject({ state: 'failed', tryNumber: 1 });
    expect(tis.b!.error).toContain('is missing');
    expect(tis.c).toMatchObject({ state: 'upstream_failed', tryNumber: 0 });
    return { ...run, dir, aEnd: tis.a!.endDate };
  }

  it('clear with downstream re-runs the failed task and everything after it, not its upstream', async () => {
    const run = await failedRun('downstream');
    await writeFile(path.join(run.dir, 'ok'), 'ok');

    const cleared = await clearTasks(harness.runtime, DAG_ID, run.runId, 'b', { downstream: true });
    expect([...cleared].sort()).toEqual(['b', 'c']);
    const rerun = await harness.waitForRun(run.dagRunId);
    expect(rerun.state).toBe('success');

    const tis = await byTask(run.dagRunId);
    expect(tis.a).toMatchObject({ state: 'success', tryNumber: 1, output: { try: 1 } });
    expect(tis.a!.endDate).toEqual(run.aEnd); // not re-run
    expect(tis.b).toMatchObject({ state: 'success', tryNumber: 2, output: { try: 2 }, error: null });
    expect(tis.c).toMatchObject({ state: 'success', tryNumber: 1, output: { fromB: 2 } });

    const bTries = await harness.tries(run.dagRunId, 'b');
    expect(bTries.map((t) => [t.tryNumber, t.state])).toEqual([
      [1, 'failed'],
      [2, 'success'],
    ]);
    expect((await harness.tries(run.dagRunId, 'a')).map((t) => t.tryNumber)).toEqual([1]);
    expect((await harness.logs(run.dagRunId, 'b', 2)).map((l) => l.message).some((m) => m.includes('b found'))).toBe(true);
  });

  it('clear without downstream resets only that task: the upstream_failed task after it stays so', async () => {
    const run = await failedRun('alone');
    await writeFile(path.join(run.dir, 'ok'), 'ok');

    const cleared = await clearTasks(harness.runtime, DAG_ID, run.runId, 'b');
    expect(cleared).toEqual(['b']);
    const rerun = await harness.waitForRun(run.dagRunId);
    // As in Airflow: c was not cleared, so it is still upstream_failed and the run (its leaf) fails.
    expect(rerun.state).toBe('failed');
    const tis = await byTask(run.dagRunId);
    expect(tis.a).toMatchObject({ state: 'success', tryNumber: 1 });
    expect(tis.b).toMatchObject({ state: 'success', tryNumber: 2 });
    expect(tis.c).toMatchObject({ state: 'upstream_failed', tryNumber: 0 });
  });

  it('clearing one task of a successful run re-runs it alone and the run ends success again', async () => {
    const dir = path.join(tmp, 'green');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'ok'), 'ok');
    const run = await harness.trigger(DAG_ID, { conf: { dir } });
    expect((await harness.waitForRun(run.dagRunId)).state).toBe('success');
    const before = await byTask(run.dagRunId);

    expect(await clearTasks(harness.runtime, DAG_ID, run.runId, 'b')).toEqual(['b']);
    const rerun = await harness.waitForRun(run.dagRunId);
    expect(rerun.state).toBe('success');
    const after = await byTask(run.dagRunId);
    expect(after.b).toMatchObject({ state: 'success', tryNumber: 2, output: { try: 2 } });
    for (const taskId of ['a', 'c']) {
      expect(after[taskId]).toMatchObject({ state: 'success', tryNumber: 1 });
      expect(after[taskId]!.endDate).toEqual(before[taskId]!.endDate);
    }
    expect(after.c!.output).toEqual({ fromB: 1 }); // c still holds what it computed from b's first try
  });
});
