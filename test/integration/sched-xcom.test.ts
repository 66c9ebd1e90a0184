import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.ts';

const DAGS = fileURLToPath(new URL('../fixtures/dags-sched/xcom', import.meta.url));

describe('XCom: size cap, JSON check, reading a failed upstream', () => {
  let harness: Harness;
  let dagRunId: number;
  let runId: string;
  let tis: Record<string, Awaited<ReturnType<Harness['taskInstances']>>[number]>;
  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: DAGS, workers: { default: 4 }, config: { xcomMaxBytes: 1000 } });
    ({ dagRunId, runId } = await harness.trigger('sched_xcom'));
    await harness.waitForRun(dagRunId);
    tis = Object.fromEntries((await harness.taskInstances(dagRunId)).map((t) => [t.taskId, t]));
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('fails a try whose output is over the XCom cap, saying so', async () => {
    expect(tis.too_big).toMatchObject({ state: 'failed', tryNumber: 1, output: null });
    expect(tis.too_big!.error).toMatch(/over the XCom cap of 1000 bytes/);
    expect(tis.too_big!.error).toContain('artifact store');
    const [archived] = await harness.tries(dagRunId, 'too_big');
    expect(archived).toMatchObject({ state: 'failed', output: null });
    expect(archived!.error).toContain('XCom cap');
    const logged = (await harness.logs(dagRunId, 'too_big', 1)).map((l) => l.message);
    expect(logged.some((m) => m.includes('XCom cap'))).toBe(true);
  });

  it('keeps an output under the cap', () => {
    expect(tis.under_cap).toMatchObject({ state: 'success', output: { blob: 'x'.repeat(500) } });
  });

  it('fails a try whose output is not JSON (a Date at run time), saying so', () => {
    expect(tis.not_json).toMatchObject({ state: 'failed', output: null });
    expect(tis.not_json!.error).toContain('output of task "not_json" is not JSON');
    expect(tis.not_json!.error).toContain('Date');
  });

  it('ctx.upstream of a failed upstream rejects with a clear error under an all_done downstream', () => {
    expect(tis.boom).toMatchObject({ state: 'failed' });
    expect(tis.reader_caught).toMatchObject({ state: 'success' });
    expect(tis.reader_caught!.output).toEqual({
      resolved: false,
      value: null,
      message: 'upstream task "boom" has no output: its state is failed, not success',
    });
    expect(tis.reader_uncaught).toMatchObject({ state: 'failed', tryNumber: 1 });
    expect(tis.reader_uncaught!.error).toContain('upstream task "boom" has no output: its state is failed, not success');
  });

  it('fails the run (failed leaves)', async () => {
    expect((await harness.run('sched_xcom', runId))?.state).toBe('failed');
  });
});
