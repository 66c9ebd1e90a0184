import { task, type TaskHandle } from '../../core/sdk/index.ts';
import type { RankerStage } from '../declare.ts';
import { withResources } from '../resources.ts';
import type { ModelRanking } from '../steps.ts';
import { rankShardStep, servingModel, type ShardRanking } from './rank-step.ts';
import { DEFAULT_RANKER_STAGE_OPTIONS, type RankerStageOptions } from './ranker-options.ts';
import { trainStep, type TrainResult } from './train-step.ts';

/**
 * The deep ranker's tasks: `train` (gpu pool) → `rank_shard_0 … rank_shard_{n-1}` (in parallel on
 * the rank pool's workers) → `rank` (the shards' files as one ranking).
 * The shards run whatever `train` did (`all_done`): when training failed they rank with the model
 * in production, and when there is none they return null, so the rows come from the heuristics.
 */
export function twoTowerRanker(overrides: Partial<RankerStageOptions> = {}): RankerStage {
  const options: RankerStageOptions = { ...DEFAULT_RANKER_STAGE_OPTIONS, ...overrides };
  if (!Number.isInteger(options.shards) || options.shards < 1 || options.shards > 64) throw new Error(`ranker shards must be an integer in 1…64 (got ${options.shards})`);
  return ({ extract, stepContext }) => {
    const train = task({
      taskId: 'train',
      upstream: [extract],
      pool: options.trainPool,
      sandboxed: true,
      doc: 'Trains a new ranker version, evaluates it against popularity, the heuristics, ItemKNN and production on a holdout, and promotes it only if it wins.',
      run: async (ctx): Promise<TrainResult> => {
        const extracted = await ctx.upstream(extract);
        return withResources((resources) => trainStep(resources, stepContext(ctx), extracted, options));
      },
    });
    const shards: TaskHandle<string, ShardRanking | null>[] = [];
    for (let shard = 0; shard < options.shards; shard++) {
      shards.push(
        task({
          taskId: `rank_shard_${shard}`,
          upstream: [extract, train],
          triggerRule: 'all_done',
          pool: options.rankPool,
          sandboxed: true,
          doc: `Scores every class for every ${options.shards === 1 ? '' : `${options.shards}th `}member (shard ${shard}) with the serving model and keeps their best candidates.`,
          run: async (ctx): Promise<ShardRanking | null> => {
            const extracted = await ctx.upstream(extract);
            let trained: TrainResult | null = null;
            try {
              trained = await ctx.upstream(train);
            } catch (error) {
              ctx.log.warn(`train did not succeed (${(error as Error).message})`);
            }
            return withResources(async (resources) => {
              const step = stepContext(ctx);
              const model = await servingModel(resources, trained, options, step.log);
              return model ? rankShardStep(resources, step, { extract: extracted, model, shard, shards: options.shards }) : null;
            });
          },
        }),
      );
    }
    const rank = task({
      taskId: 'rank',
      upstream: shards,
      doc: 'The shards’ rankings as one model ranking (or none, when there was no model to rank with).',
      run: async (ctx): Promise<ModelRanking | null> => {
        const parts: ShardRanking[] = [];
        for (const shard of shards) {
          const part = await ctx.upstream(shard);
          if (part) parts.push(part);
        }
        if (parts.length === 0) return null;
        const versions = new Set(parts.map((p) => p.modelVersion));
        if (parts.length !== shards.length || versions.size !== 1) {
          throw new Error(`the shards ranked with different models (${[...versions].join(', ')}${parts.length !== shards.length ? ', and some with none' : ''}): the model in production changed mid-run; clear the rank shards to rerun them`);
        }
        ctx.log(`${parts.reduce((n, p) => n + p.members, 0)} members ranked by ${parts[0]!.modelVersion} in ${parts.length} shards`);
        return { rankingFiles: parts.map((p) => p.rankingFile), modelVersion: parts[0]!.modelVersion };
      },
    });
    return [rank];
  };
}
