import { dag, task } from 'flywheel';
import { summarize } from '../lib/stats.ts';

/**
 * An example DAG: `extract` → `summarize` → `report`. Each task's output is JSON, and
 * `ctx.upstream(handle)` returns the upstream task's output type: `npm run typecheck` and
 * `flywheel dags check` reject a DAG that reads it wrongly.
 */
export default dag(
  {
    dagId: 'hello_flywheel',
    schedule: '0 5 * * *',
    timezone: 'UTC',
    startDate: '2026-01-01',
    catchup: false,
    tags: ['example'],
    defaultArgs: { retries: 2, retryDelay: '30s' },
  },
  () => {
    const extract = task({
      taskId: 'extract',
      run: (ctx) => {
        // Stand-in for reading the day's data: one value per hour of the data interval.
        const hours = Math.round((ctx.dataInterval.end.getTime() - ctx.dataInterval.start.getTime()) / 3_600_000);
        ctx.log(`extracting ${hours} hours from ${ctx.dataInterval.start.toISOString()}`);
        return { values: Array.from({ length: hours }, (_, hour) => hour) };
      },
    });
    const stats = task({
      taskId: 'summarize',
      upstream: [extract],
      run: async (ctx) => summarize((await ctx.upstream(extract)).values),
    });
    task({
      taskId: 'report',
      upstream: [stats],
      // A child process of its own: CPU-heavy work here cannot stall the worker.
      sandboxed: true,
      run: async (ctx) => {
        const { count, mean } = await ctx.upstream(stats);
        ctx.log(`${count} values, mean ${mean ?? 'n/a'}`);
        return { line: `hello_flywheel ${ctx.runId}: ${count} values` };
      },
    });
  },
);
