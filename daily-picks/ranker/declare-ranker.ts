import type { RankerStage } from '../declare.ts';
import { rankerOptions, type RankerStageOptions } from './ranker-options.ts';
import { rankShardTasks, rankTask, trainTask } from './tasks.ts';

/**
 * The deep ranker's tasks as a `declareDailyPicks` ranker stage: `train` (gpu pool) →
 * `rank_shard_0 … rank_shard_{n-1}` (in parallel on the rank pool's workers) → `rank` (the
 * shards' files as one ranking), built by the factories of tasks.ts.
 * The shards run whatever `train` did (`all_done`): when training failed they rank with the model
 * in production, and when there is none they return null, so the rows come from the heuristics.
 */
export function twoTowerRanker(overrides: Partial<RankerStageOptions> = {}): RankerStage {
  const ranker = rankerOptions(overrides);
  return ({ extract, options }) => {
    const train = trainTask({ extract, ranker, options });
    const shards = rankShardTasks({ extract, train, ranker, options });
    return [rankTask({ shards })];
  };
}
