import { z } from 'zod';

/** Knobs of the Daily Picks pipeline; a manual trigger's `conf` may override any of them. */
export interface DailyPicksOptions {
  /**
   * Days of history before the run's as-of time that heuristics (and training) read; `null`
   * reads all of it, so data imported from years ago works.
   * @defaultValue null
   */
  historyWindowDays: number | null;
  /**
   * Members without a workout for this many days before the data's clock are the
   * `long_inactive` segment: the serving plan measures which candidate serves them best
   * (inactivity alone is no reason to fall back to the heuristics).
   * @defaultValue 60
   */
  inactiveDays: number;
  /**
   * Length of the `ranked` row (a member's full top-N, classes already taken excluded).
   * @defaultValue 100
   */
  rankedSize: number;
  /**
   * Length of each named row (`for_your_usual`, `quick_workout`, `something_new`).
   * @defaultValue 10
   */
  rowSize: number;
  /**
   * Candidates kept per member by the ranking step; the rows are cut from them. Must be
   * at least `rankedSize`.
   * @defaultValue 300
   */
  candidateDepth: number;
  /**
   * Members scored per batch: memory stays bounded by batch × catalogue, whatever the member count.
   * @defaultValue 2048
   */
  memberBatchSize: number;
  /** How members of a `model_ignore_aware` experiment variant are spared the classes they keep ignoring. */
  ignoreAware: IgnoreAwareOptions;
}

/**
 * The ignore discount of the `model_ignore_aware` variant: a class shown to the member on `n`
 * distinct days of the last `windowDays` (before the run's clock) without a conversion of it
 * scores `score × gamma^n`, after resting `restDays` since it was last shown; from `cooldownAfter` such days on it is left out of their rows, and
 * from `somethingNewCooldownAfter` on out of `something_new` (a row of discoveries: showing the
 * same one again is the ignore the discount is there to stop).
 */
export interface IgnoreAwareOptions {
  /**
   * The factor per day ignored, in (0, 1].
   * @defaultValue 0.5
   */
  gamma: number;
  /**
   * Days after an ignored class was last shown during which it is left out of every row (0: none):
   * what a member passed over yesterday is not shown again today. Then it comes back, discounted.
   * @defaultValue 1
   */
  restDays: number;
  /**
   * Days ignored from which a class is left out of every row.
   * @defaultValue 3
   */
  cooldownAfter: number;
  /**
   * Days ignored from which a class is left out of `something_new`.
   * @defaultValue 1
   */
  somethingNewCooldownAfter: number;
  /**
   * Days before the run's clock whose impressions count.
   * @defaultValue 7
   */
  windowDays: number;
}

/** What a DAG or a run's conf may set: any option, and any of `ignoreAware`'s alone. */
export type DailyPicksOverrides = Partial<Omit<DailyPicksOptions, 'ignoreAware'>> & { ignoreAware?: Partial<IgnoreAwareOptions> };

export const DEFAULT_IGNORE_AWARE_OPTIONS: IgnoreAwareOptions = { gamma: 0.5, restDays: 1, cooldownAfter: 3, somethingNewCooldownAfter: 1, windowDays: 7 };

export const DEFAULT_DAILY_PICKS_OPTIONS: DailyPicksOptions = {
  historyWindowDays: null,
  inactiveDays: 60,
  rankedSize: 100,
  rowSize: 10,
  candidateDepth: 300,
  memberBatchSize: 2048,
  ignoreAware: DEFAULT_IGNORE_AWARE_OPTIONS,
};

const ignoreAwareSchema = z
  .object({
    gamma: z.number().gt(0).max(1),
    restDays: z.number().int().min(0).max(365),
    cooldownAfter: z.number().int().min(1).max(365),
    somethingNewCooldownAfter: z.number().int().min(1).max(365),
    windowDays: z.number().int().min(1).max(365),
  })
  .partial()
  .strict();

const optionsSchema = z
  .object({
    historyWindowDays: z.number().int().positive().nullable(),
    inactiveDays: z.number().int().positive(),
    rankedSize: z.number().int().min(1).max(1000),
    rowSize: z.number().int().min(1).max(100),
    candidateDepth: z.number().int().min(1).max(5000),
    memberBatchSize: z.number().int().min(1).max(65_536),
    ignoreAware: ignoreAwareSchema,
  })
  .partial()
  .strict();

/** Merges defaults, the DAG's options and the run's conf (`conf.dailyPicks`), validating each. */
export function resolveOptions(...layers: unknown[]): DailyPicksOptions {
  let options = { ...DEFAULT_DAILY_PICKS_OPTIONS };
  for (const layer of layers) {
    if (layer === undefined || layer === null) continue;
    const parsed = optionsSchema.safeParse(layer);
    if (!parsed.success) {
      throw new Error(`invalid Daily Picks options: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    const { ignoreAware, ...rest } = parsed.data;
    options = { ...options, ...(Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<DailyPicksOptions>) };
    // Merged key by key: a conf may change gamma alone.
    if (ignoreAware) options.ignoreAware = { ...options.ignoreAware, ...(Object.fromEntries(Object.entries(ignoreAware).filter(([, v]) => v !== undefined)) as Partial<IgnoreAwareOptions>) };
  }
  if (options.candidateDepth < options.rankedSize) options.candidateDepth = options.rankedSize;
  return options;
}

/**
 * For `dag({ validateConf })`: a manual run's `conf.dailyPicks` must be valid options, so a bad
 * trigger is refused at once (400 / exit 2) instead of failing the run's tasks.
 */
export function validateDailyPicksConf(conf: Record<string, unknown>): void {
  if (conf.dailyPicks !== undefined) resolveOptions(conf.dailyPicks);
}
