/**
 * The two-tower ranker's tasks, one factory each (see tasks.ts for the pipeline's own):
 * `train` (gpu pool) → `rank_shard_0 … rank_shard_{n-1}` (in parallel on the rank pool's
 * workers) → `rank` (the shards' files as one ranking). Give every factory the same `ranker`
 * options (`rankerOptions()`).
 */
import { task, type TaskHandle } from '../../core/sdk/index.ts';
import { withConnections } from '../../operators/connections.ts';
import type { ModelRanking, VersionModelRanking } from '../steps.ts';
import { stepContext, type ExtractTask, type PicksTaskOptions } from '../tasks.ts';
import { rankShardStep, servingModel, type ShardRanking } from './rank-step.ts';
import type { RankerStageOptions } from './ranker-options.ts';
import { trainStep, type TrainResult } from './train-step.ts';

export type TrainTask = TaskHandle<'train', TrainResult>;
export type RankShardTask = TaskHandle<string, ShardRanking | null>;
export type RankTask = TaskHandle<'rank', ModelRanking | null>;

/**
 * `train` (pool `ranker.trainPool`, sandboxed, after `extract`): trains a new model version,
 * evaluates it on a holdout against popularity, the heuristics, ItemKNN and production, and
 * promotes it only if it wins.
 */
export function trainTask({ extract, ranker, options }: { extract: ExtractTask; ranker: RankerStageOptions } & PicksTaskOptions): TrainTask {
  return task({
    taskId: 'train',
    upstream: [extract],
    pool: ranker.trainPool,
    sandboxed: true,
    doc: 'Trains a new ranker version, evaluates it against popularity, the heuristics, ItemKNN and production on a holdout, and promotes it only if it wins.',
    run: async (ctx): Promise<TrainResult> => {
      const extracted = await ctx.upstream(extract);
      return withConnections((resources) => trainStep(resources, stepContext(ctx, options), extracted, ranker));
    },
  });
}

/**
 * `rank_shard_0 … rank_shard_{n-1}` (`ranker.shards` tasks, pool `ranker.rankPool`, sandboxed,
 * trigger rule `all_done` after `extract` and `train`): each scores every class for every n-th
 * member with the serving model — the new one if promoted, else the one in production (also
 * when `train` failed) — or returns null when there is none.
 */
export function rankShardTasks({ extract, train, ranker, options }: { extract: ExtractTask; train: TrainTask; ranker: RankerStageOptions } & PicksTaskOptions): RankShardTask[] {
  const shards: RankShardTask[] = [];
  for (let shard = 0; shard < ranker.shards; shard++) {
    shards.push(
      task({
        taskId: `rank_shard_${shard}`,
        upstream: [extract, train],
        triggerRule: 'all_done',
        pool: ranker.rankPool,
        sandboxed: true,
        doc: `Scores every class for every ${ranker.shards === 1 ? '' : `${ranker.shards}th `}member (shard ${shard}) with the serving model and keeps their best candidates.`,
        run: async (ctx): Promise<ShardRanking | null> => {
          const extracted = await ctx.upstream(extract);
          let trained: TrainResult | null = null;
          try {
            trained = await ctx.upstream(train);
          } catch (error) {
            ctx.log.warn(`train did not succeed (${(error as Error).message})`);
          }
          return withConnections(async (resources) => {
            const step = stepContext(ctx, options);
            const model = await servingModel(resources, trained, ranker, extracted, step.log);
            return model ? rankShardStep(resources, step, { extract: extracted, model, shard, shards: ranker.shards }) : null;
          });
        },
      }),
    );
  }
  return shards;
}

/** `rank` (after every shard): the shards' rankings as one model ranking, or null when there was no model to rank with. */
export function rankTask({ shards }: { shards: readonly RankShardTask[] }): RankTask {
  return task({
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
      // Shards from before plans wrote one ranker file each.
      const rankings = parts.flatMap((p) => p.rankings ?? (p.rankingFile ? [{ candidate: 'ranker' as const, rankingFile: p.rankingFile }] : []));
      const byVersion = versionRankings(parts, (message) => ctx.log.warn(message));
      return { rankingFiles: rankings.map((r) => r.rankingFile), modelVersion: parts[0]!.modelVersion, candidates: rankings.map((r) => r.candidate), ...(byVersion.length > 0 ? { versions: byVersion } : {}) };
    },
  });
}

/**
 * The experiments' model versions ranked by every shard, their files joined. A version some shard
 * could not rank (it changed mid-run) is left out, so none of its members get a partial ranking:
 * the rows step serves its members the model's rows and says so.
 */
function versionRankings(parts: readonly ShardRanking[], warn: (message: string) => void): VersionModelRanking[] {
  const byVersion = new Map<string, VersionModelRanking & { shards: number }>();
  for (const part of parts) {
    for (const { version, rankings } of part.versions ?? []) {
      let joined = byVersion.get(version);
      if (!joined) byVersion.set(version, (joined = { version, rankingFiles: [], candidates: [], shards: 0 }));
      joined.shards += 1;
      for (const r of rankings) {
        joined.rankingFiles.push(r.rankingFile);
        joined.candidates.push(r.candidate);
      }
    }
  }
  const out: VersionModelRanking[] = [];
  for (const { shards, ...ranking } of byVersion.values()) {
    if (shards === parts.length) out.push(ranking);
    else warn(`model version ${ranking.version} was ranked by ${shards} of ${parts.length} shards: its experiment members get the model's rows`);
  }
  return out;
}
