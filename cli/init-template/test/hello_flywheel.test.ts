import { describe, expect, it } from 'vitest';
import { runTask } from 'flywheel/testing';
import helloFlywheel from '../dags/hello_flywheel.ts';

// Tasks run in this process with the same `ctx` a worker gives them: no database, queue or scheduler.
describe('hello_flywheel', () => {
  it('is a daily DAG of extract → summarize → report', () => {
    expect(helloFlywheel.dagId).toBe('hello_flywheel');
    expect(helloFlywheel.schedule).toBe('0 5 * * *');
    expect(helloFlywheel.topologicalOrder).toEqual(['extract', 'summarize', 'report']);
    expect(helloFlywheel.task('report').upstreamIds).toEqual(['summarize']);
  });

  it('extracts one value per hour of the data interval', async () => {
    const { output, logs } = await runTask(helloFlywheel, 'extract', { logicalDate: new Date('2026-03-01T05:00:00Z') });
    expect(output).toEqual({ values: Array.from({ length: 24 }, (_, hour) => hour) });
    expect(logs[0]?.message).toContain('extracting 24 hours');
  });

  it('summarizes what extract returned', async () => {
    const { output } = await runTask(helloFlywheel, 'summarize', { upstream: { extract: { values: [1, 2, 3, 6] } } });
    expect(output).toEqual({ count: 4, total: 12, mean: 3 });
  });

  it('fails as a real run would when its upstream has no output', async () => {
    await expect(runTask(helloFlywheel, 'report')).rejects.toThrow(/upstream task "summarize" has no output/);
  });
});
