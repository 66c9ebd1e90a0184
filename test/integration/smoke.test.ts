import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.ts';

describe('a linear chain end to end', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await Harness.start();
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('runs a → b → c with typed outputs and conf, and stores logs', async () => {
    const run = await harness.trigger('chain', { conf: { start: 5 } });
    const finished = await harness.waitForRun(run.dagRunId);
    expect(finished.state).toBe('success');
    const tis = await harness.taskInstances(run.dagRunId);
    expect(Object.fromEntries(tis.map((t) => [t.taskId, t.output]))).toEqual({ a: { n: 5 }, b: { n: 10 }, c: { n: 11 } });
    expect(tis.every((t) => t.tryNumber === 1)).toBe(true);
    const lines = await harness.logs(run.dagRunId, 'c', 1);
    expect(lines.map((l) => l.message)).toContain('c got 10');
  });
});
