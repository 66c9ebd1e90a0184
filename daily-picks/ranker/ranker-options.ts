import type { TrainOptions } from '../../model/ranker/trainer.ts';

/** How the Daily Picks ranker stage trains, evaluates and ranks. */
export type RankerStageOptions = {
  /** Registry name of the model (one of its versions is in production). @defaultValue 'daily_picks_ranker' */
  modelName: string;
  /** Days before the run's as-of time held out to evaluate (and gate) the new model. @defaultValue 3 */
  holdoutDays: number;
  /** Days before the holdout used for early stopping and the temperature. @defaultValue 1 */
  validationDays: number;
  /** Members evaluated on the holdout (an evenly spaced sample). @defaultValue 20000 */
  evaluationMembers: number;
  /** Rank tasks, each ranking every `shards`-th member: they run in parallel on a pool's workers. @defaultValue 2 */
  shards: number;
  /** Pool of the training task. @defaultValue 'gpu' */
  trainPool: string;
  /** Pool of the rank shards. @defaultValue 'default' */
  rankPool: string;
  /** Training knobs (see TrainOptions). */
  train: Partial<TrainOptions>;
};

export const DEFAULT_RANKER_STAGE_OPTIONS: RankerStageOptions = {
  modelName: 'daily_picks_ranker',
  holdoutDays: 3,
  validationDays: 1,
  evaluationMembers: 20_000,
  shards: 2,
  trainPool: 'gpu',
  rankPool: 'default',
  train: {},
};

/** The ranker's options: the defaults under `overrides`, checked (1–64 shards). */
export function rankerOptions(overrides: Partial<RankerStageOptions> = {}): RankerStageOptions {
  const options: RankerStageOptions = { ...DEFAULT_RANKER_STAGE_OPTIONS, ...overrides };
  if (!Number.isInteger(options.shards) || options.shards < 1 || options.shards > 64) throw new Error(`ranker shards must be an integer in 1…64 (got ${options.shards})`);
  return options;
}
