import { dag, task } from 'flywheel';

export default dag(
  {
    dagId: 'example',
    schedule: '0 4 * * *',
    timezone: 'America/New_York',
    catchup: false,
    startDate: '2026-01-01',
    maxActiveRuns: 1,
    maxActiveTasks: 8,
    tags: ['example'],
    defaultArgs: { retries: 2, retryDelay: '30s', retryExponentialBackoff: true, maxRetryDelay: '10m', executionTimeout: '1h', pool: 'default' },
  },
  () => {
    const extract = task({ taskId: 'extract', run: async (ctx) => {
      ctx.log(`extracting ${ctx.dataInterval.start.toISOString()} – ${ctx.dataInterval.end.toISOString()}`);
      return { rows: 10 };
    } });
    const train = task({
      taskId: 'train',
      upstream: [extract],
      run: async (ctx) => {
        const { rows } = await ctx.upstream(extract);
        return { version: rows };
      },
    });
    task({ taskId: 'fallback', upstream: [train], triggerRule: 'one_failed', run: async () => ({}) });
  },
);
