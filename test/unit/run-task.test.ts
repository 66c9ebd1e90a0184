import { describe, expect, it } from 'vitest';
import { dag, task } from 'flywheel';
import { runTask } from 'flywheel/testing';

const counted = dag(
  {
    dagId: 'counted',
    schedule: '@daily',
    startDate: '2026-01-01',
    validateConf: (conf) => {
      if (conf.limit !== undefined && typeof conf.limit !== 'number') throw new Error('limit must be a number');
    },
  },
  () => {
    const count = task({
      taskId: 'count',
      run: (ctx) => {
        ctx.log.warn(`try ${ctx.tryNumber} of ${ctx.maxTries}`);
        return { rows: Number(ctx.conf.limit ?? 3), from: ctx.dataInterval.start.toISOString(), to: ctx.dataInterval.end.toISOString() };
      },
      retries: 2,
    });
    task({ taskId: 'double', upstream: [count], run: async (ctx) => ({ rows: (await ctx.upstream(count)).rows * 2 }) });
    task({ taskId: 'dated', run: () => ({ at: new Date(0) }) as never });
    task({
      taskId: 'waits',
      run: (ctx) =>
        new Promise<null>((_, reject) => {
          ctx.signal.addEventListener('abort', () => reject(new Error('cancelled')));
        }),
    });
  },
);

describe('flywheel/testing runTask', () => {
  it("gives the task a worker's ctx: the schedule's data interval, conf, tries and logs", async () => {
    const { output, logs } = await runTask(counted, 'count', { logicalDate: new Date('2026-03-01T00:00:00Z'), conf: { limit: 7 }, tryNumber: 2 });
    expect(output).toEqual({ rows: 7, from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' });
    expect(logs).toEqual([{ level: 'warn', message: 'try 2 of 3' }]);
  });

  it('serves upstream outputs by task id and fails as a run would when one is missing', async () => {
    expect((await runTask(counted, 'double', { upstream: { count: { rows: 5 } } })).output).toEqual({ rows: 10 });
    await expect(runTask(counted, 'double')).rejects.toThrow('upstream task "count" has no output');
  });

  it("checks the conf with the DAG's validateConf and the output as JSON", async () => {
    await expect(runTask(counted, 'count', { conf: { limit: 'many' } })).rejects.toThrow('limit must be a number');
    await expect(runTask(counted, 'dated')).rejects.toThrow('output of task "dated" is not JSON: output.at is a Date');
    await expect(runTask(counted, 'nope')).rejects.toThrow('DAG "counted" has no task "nope"');
  });

  it('passes the abort signal through', async () => {
    const controller = new AbortController();
    const running = runTask(counted, 'waits', { signal: controller.signal });
    controller.abort();
    await expect(running).rejects.toThrow('cancelled');
  });
});
