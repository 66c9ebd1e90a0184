import { dag } from 'flywheel';
import { declareDailyPicks } from '../daily-picks/declare.ts';
import { validateDailyPicksConf } from '../daily-picks/options.ts';
import { twoTowerRanker } from '../daily-picks/ranker/declare-ranker.ts';

/**
 * Daily Picks: every day, each member's rows of recommended classes, published atomically to
 * the `picks` table and the serving cache. A two-tower ranker (trained daily in the `gpu` pool,
 * published only when it beats the heuristics and the model in production) ranks active members;
 * the heuristics rank the rest and stand in whenever there is no model to rank with.
 */
export default dag(
  {
    dagId: 'daily_picks',
    description: 'Model (two-tower ranker) and heuristic picks per member, cut into rows and published',
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
    declareDailyPicks({ ranker: twoTowerRanker() });
  },
);
