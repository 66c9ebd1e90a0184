import { dag } from 'flywheel';
import { declareDailyPicks } from '../operators/daily-picks/declare.ts';
import { validateDailyPicksConf } from '../operators/daily-picks/options.ts';

/**
 * Daily Picks: every day, each member's rows of recommended classes, published atomically to
 * the `picks` table and the serving cache. Runs on heuristics until the ranker lands.
 */
export default dag(
  {
    dagId: 'daily_picks',
    description: 'Heuristic (and, with a ranker, model) picks per member, cut into rows and published',
    schedule: '0 5 * * *',
    timezone: 'UTC',
    startDate: '2026-01-01',
    catchup: false,
    maxActiveRuns: 1,
    tags: ['recommendations'],
    validateConf: validateDailyPicksConf,
    defaultArgs: { retries: 2, retryDelay: '1m', retryExponentialBackoff: true, executionTimeout: '2h' },
  },
  () => {
    declareDailyPicks();
  },
);
