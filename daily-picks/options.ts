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
}

export const DEFAULT_DAILY_PICKS_OPTIONS: DailyPicksOptions = {
  historyWindowDays: null,
  inactiveDays: 60,
  rankedSize: 100,
  rowSize: 10,
  candidateDepth: 300,
  memberBatchSize: 2048,
};

const optionsSchema = z
  .object({
    historyWindowDays: z.number().int().positive().nullable(),
    inactiveDays: z.number().int().positive(),
    rankedSize: z.number().int().min(1).max(1000),
    rowSize: z.number().int().min(1).max(100),
    candidateDepth: z.number().int().min(1).max(5000),
    memberBatchSize: z.number().int().min(1).max(65_536),
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
    options = { ...options, ...(Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)) as Partial<DailyPicksOptions>) };
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
