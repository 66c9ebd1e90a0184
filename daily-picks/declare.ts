import type { TaskContext } from '../core/sdk/index.ts';
import type { DailyPicksOverrides } from './options.ts';
import type { StepContext } from './steps.ts';
import {
  attributeConversionsTask,
  extractTask,
  filterRowsTask,
  heuristicsTask,
  publishTask,
  selectRankingTask,
  stepContext,
  type ExtractTask,
  type HeuristicsTask,
  type RankingTask,
} from './tasks.ts';

/** The tasks a ranker hangs off: extract's artifacts and the heuristics baseline. */
export interface RankerUpstream {
  extract: ExtractTask;
  heuristics: HeuristicsTask;
  /** This DAG's Daily Picks options, for the ranker's own task factories (`trainTask({ …, options })`). */
  options: DailyPicksOverrides | undefined;
  /** The step context the pipeline's own tasks get (this DAG's options under the run's conf). */
  stepContext: (ctx: TaskContext) => StepContext;
}

/**
 * Declares a ranker's tasks (train → evaluate → rank, …) and returns the tasks whose output
 * is a ranking, in order of preference: e.g. `[rank, rank_last_good]`. `filter_rows` uses the
 * first that succeeded with a ranking; when none did, the heuristics'.
 */
export type RankerStage = (upstream: RankerUpstream) => RankingTask[];

export interface DailyPicksDeclaration {
  /** Options of this DAG; a manual run's `conf.dailyPicks` overrides them. */
  options?: DailyPicksOverrides;
  /** The model ranker's tasks. Without one the pipeline runs on heuristics alone. */
  ranker?: RankerStage;
}

/**
 * The Daily Picks tasks, declared inside a `dag()` body with the task factories of tasks.ts:
 * extract → heuristics, [ranker], attribute_conversions → select_ranking → filter_rows → publish.
 * `select_ranking` runs once the ranker's tasks and `attribute_conversions` are done whatever
 * their state (`all_done`), so a failed ranker falls back to the last good model or the
 * heuristics, failed feedback attribution leaves the ignore-aware variant yesterday's
 * conversions, and the run still publishes; a failed extract or heuristics fails the run at once.
 * dags/daily_picks.ts wires the same factories itself, so its file shows every task and edge.
 */
export function declareDailyPicks(declaration: DailyPicksDeclaration = {}) {
  const { options } = declaration;
  const extract = extractTask({ options });
  const heuristics = heuristicsTask({ extract, options });
  const attributeConversions = attributeConversionsTask({ extract, options });
  const rankings = declaration.ranker?.({ extract, heuristics, options, stepContext: (ctx) => stepContext(ctx, options) }) ?? [];
  // Also without a ranker: it is where filter_rows waits for attribute_conversions, whatever its state.
  const selectRanking = selectRankingTask({ rankings, after: [attributeConversions] });
  const filterRows = filterRowsTask({ extract, heuristics, selectRanking, options });
  const publish = publishTask({ filterRows, options });
  return { extract, heuristics, attributeConversions, rankings, selectRanking, filterRows, publish };
}
