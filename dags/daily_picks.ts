import { dag } from 'flywheel';
import { validateDailyPicksConf } from '../daily-picks/options.ts';
import { rankerOptions } from '../daily-picks/ranker/ranker-options.ts';
import { rankShardTasks, rankTask, trainTask } from '../daily-picks/ranker/tasks.ts';
import { attributeConversionsTask, extractTask, filterRowsTask, heuristicsTask, publishTask, selectRankingTask } from '../daily-picks/tasks.ts';

/**
 * Daily Picks: every day, each member's rows of recommended classes, published atomically to
 * the `picks` table and the serving cache. A two-tower ranker (trained daily in the `gpu` pool,
 * published only when it beats the heuristics and the model in production) ranks active members;
 * the heuristics rank the rest and stand in whenever there is no model to rank with.
 *
 * Members in a live experiment get the experiment's rows from their variant (the heuristics, the
 * model, the model with the ignore discount, or a model version), tagged with it.
 *
 * extract ─┬─► heuristics ──────────────────────────────────────────────────────────────────────┬─► filter_rows ─► publish
 *          ├─► train (gpu) ─► rank_shard_0, rank_shard_1 (all_done) ─► rank ─┬─► select_ranking ─┘
 *          └─► attribute_conversions ─────────────────────────────────────────┘    (all_done)
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
    // Workout history into one Arrow file per day (incremental), plus this run's class and member snapshots.
    const extract = extractTask();
    // The baseline and the fallback: every class scored for every member by their habits.
    const heuristics = heuristicsTask({ extract });

    // The ranker. train: a new model version, promoted only if it wins on the holdout.
    // The shards run whatever train did (all_done), with the new model or the one in production;
    // rank joins them (null when there was no model to rank with).
    const ranker = rankerOptions(); // 2 shards; train in the gpu pool, shards in default
    const train = trainTask({ extract, ranker });
    const shards = rankShardTasks({ extract, train, ranker });
    const rank = rankTask({ shards });

    // What members were shown and took since the last run: conversions attributed, old feedback dropped.
    const attributeConversions = attributeConversionsTask({ extract });

    // Runs whatever the ranker and attribute_conversions did (all_done) and always succeeds: the
    // ranking, or none (heuristic rows); failed feedback never holds up the picks.
    const selectRanking = selectRankingTask({ rankings: [rank], after: [attributeConversions] });
    // Model rows for active members, heuristic rows for the rest, popular classes without history;
    // an experiment's rows from each member's variant.
    const filterRows = filterRowsTask({ extract, heuristics, selectRanking });
    // The picks table (COPY and swap, the previous set kept) and the Redis serving cache.
    publishTask({ filterRows });
  },
);
