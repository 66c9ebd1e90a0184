import { task, type TaskContext, type TaskHandle } from '../core/sdk/index.ts';
import type { ExtractResult } from './extract.ts';
import { resolveOptions, type DailyPicksOptions } from './options.ts';
import type { PublishResult } from './publish.ts';
import { withResources } from './resources.ts';
import { extractStep, heuristicsStep, publishStep, rowsStep, type HeuristicsResult, type ModelRanking, type RowsResult, type StepContext } from './steps.ts';

/** The tasks a ranker hangs off: extract's artifacts and the heuristics baseline. */
export interface RankerUpstream {
  extract: TaskHandle<'extract', ExtractResult>;
  heuristics: TaskHandle<'heuristics', HeuristicsResult>;
  /** The step context the pipeline's own tasks get (this DAG's options under the run's conf). */
  stepContext: (ctx: TaskContext) => StepContext;
}

/**
 * Declares a ranker's tasks (train → evaluate → rank, …) and returns the tasks whose output
 * is a ranking, in order of preference: e.g. `[rank, rank_last_good]`. `filter_rows` uses the
 * first that succeeded with a ranking; when none did, the heuristics'.
 */
export type RankerStage = (upstream: RankerUpstream) => TaskHandle<string, ModelRanking | null>[];

export interface DailyPicksDeclaration {
  /** Options of this DAG; a manual run's `conf.dailyPicks` overrides them. */
  options?: Partial<DailyPicksOptions>;
  /** The model ranker's tasks. Without one the pipeline runs on heuristics alone. */
  ranker?: RankerStage;
}

function stepContext(ctx: TaskContext, options: Partial<DailyPicksOptions> | undefined): StepContext {
  return {
    dagId: ctx.dagId,
    runId: ctx.runId,
    dataInterval: ctx.dataInterval,
    options: resolveOptions(options, ctx.conf.dailyPicks),
    log: (message) => ctx.log(message),
    signal: ctx.signal,
  };
}

/**
 * The Daily Picks tasks, declared inside a `dag()` body:
 * extract → heuristics → [ranker → select_ranking] → filter_rows → publish.
 * `select_ranking` runs once the ranker's tasks are done whatever their state (`all_done`), so
 * a failed ranker falls back to the last good model or the heuristics and the run still
 * publishes; a failed extract or heuristics fails the run at once.
 */
export function declareDailyPicks(declaration: DailyPicksDeclaration = {}) {
  const { options } = declaration;
  const extract = task({
    taskId: 'extract',
    doc: 'Workout history since the last run (one Arrow file per day, incremental) and snapshots of classes and members.',
    sandboxed: true,
    run: (ctx): Promise<ExtractResult> => withResources((resources) => extractStep(resources, stepContext(ctx, options))),
  });
  const heuristics = task({
    taskId: 'heuristics',
    upstream: [extract],
    doc: "Scores every class for every member by their usual discipline, duration and instructor: the baseline and the fallback.",
    sandboxed: true,
    run: async (ctx): Promise<HeuristicsResult> => {
      const extracted = await ctx.upstream(extract);
      return withResources((resources) => heuristicsStep(resources, stepContext(ctx, options), extracted));
    },
  });
  const rankings = declaration.ranker?.({ extract, heuristics, stepContext: (ctx) => stepContext(ctx, options) }) ?? [];
  // all_done: runs whatever the ranker's tasks did, and always succeeds (null = no model ranking),
  // so filter_rows can keep all_success and fail fast (no retries) when extract or heuristics failed.
  const selectRanking =
    rankings.length === 0
      ? null
      : task({
          taskId: 'select_ranking',
          upstream: rankings,
          triggerRule: 'all_done',
          doc: 'The first ranking the ranker’s tasks produced, in order of preference; none means heuristic rows.',
          run: async (ctx): Promise<ModelRanking | null> => {
            for (const ranking of rankings) {
              let model: ModelRanking | null;
              try {
                model = await ctx.upstream(ranking);
              } catch (error) {
                ctx.log.warn(`${ranking.taskId} has no ranking (${(error as Error).message}); trying the next source`);
                continue;
              }
              if (model) {
                ctx.log(`using ${ranking.taskId}'s ranking (model ${model.modelVersion})`);
                return model;
              }
              ctx.log(`${ranking.taskId} returned no ranking; trying the next source`);
            }
            ctx.log.warn('no model ranking this run: rows come from the heuristics');
            return null;
          },
        });
  const filterRows = task({
    taskId: 'filter_rows',
    upstream: selectRanking ? [extract, heuristics, selectRanking] : [extract, heuristics],
    doc: 'Cuts each ranked list into for_your_usual, quick_workout, something_new and ranked; falls back to heuristics or popularity.',
    sandboxed: true,
    run: async (ctx): Promise<RowsResult> => {
      const extracted = await ctx.upstream(extract);
      const baseline = await ctx.upstream(heuristics);
      const model = selectRanking ? await ctx.upstream(selectRanking) : null;
      return withResources((resources) => rowsStep(resources, stepContext(ctx, options), { extract: extracted, heuristics: baseline, model }));
    },
  });
  const publish = task({
    taskId: 'publish',
    upstream: [filterRows],
    doc: 'Swaps the run’s picks into the picks table atomically (the previous set is kept) and fills the serving cache.',
    sandboxed: true,
    run: async (ctx): Promise<PublishResult> => {
      const rows = await ctx.upstream(filterRows);
      return withResources((resources) => publishStep(resources, stepContext(ctx, options), rows));
    },
  });
  return { extract, heuristics, rankings, selectRanking, filterRows, publish };
}
