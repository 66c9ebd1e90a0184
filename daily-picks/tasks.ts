/**
 * The Daily Picks tasks, one small factory each, to call inside a `dag()` body: a DAG file wires
 * them by passing each task's handle to the tasks that read it (see dags/daily_picks.ts).
 * Every factory takes `options`, this DAG's Daily Picks options (a manual run's
 * `conf.dailyPicks` overrides them per run).
 */
import { task, type AnyTaskHandle, type TaskContext, type TaskHandle } from '../core/sdk/index.ts';
import type { ExtractResult } from './extract.ts';
import { resolveOptions, type DailyPicksOverrides } from './options.ts';
import type { PublishResult } from './publish.ts';
import { withConnections } from '../operators/connections.ts';
import { attributeConversionsStep, extractStep, heuristicsStep, publishStep, rowsStep, type AttributeConversionsResult, type HeuristicsResult, type ModelRanking, type RowsResult, type StepContext } from './steps.ts';

export type ExtractTask = TaskHandle<'extract', ExtractResult>;
export type HeuristicsTask = TaskHandle<'heuristics', HeuristicsResult>;
export type AttributeConversionsTask = TaskHandle<'attribute_conversions', AttributeConversionsResult>;
/** A task whose output is a model's ranking, or null when it had no model to rank with. */
export type RankingTask = TaskHandle<string, ModelRanking | null>;
export type SelectRankingTask = TaskHandle<'select_ranking', ModelRanking | null>;
export type FilterRowsTask = TaskHandle<'filter_rows', RowsResult>;
export type PublishTask = TaskHandle<'publish', PublishResult>;

/** What every Daily Picks task factory takes. */
export interface PicksTaskOptions {
  /** This DAG's Daily Picks options; a manual run's `conf.dailyPicks` overrides them. @defaultValue the defaults (DEFAULT_DAILY_PICKS_OPTIONS) */
  options?: DailyPicksOverrides;
}

/** The step context of a running task: its run, and the DAG's options under the run's conf. */
export function stepContext(ctx: TaskContext, options: DailyPicksOverrides | undefined): StepContext {
  return {
    dagId: ctx.dagId,
    runId: ctx.runId,
    dataInterval: ctx.dataInterval,
    options: resolveOptions(options, ctx.conf.dailyPicks),
    log: (message) => ctx.log(message),
    signal: ctx.signal,
  };
}

/** `extract` (sandboxed): workout history into one Arrow file per day, incrementally, and this run's class and member snapshots. */
export function extractTask({ options }: PicksTaskOptions = {}): ExtractTask {
  return task({
    taskId: 'extract',
    doc: 'Workout history since the last run (one Arrow file per day, incremental) and snapshots of classes and members.',
    sandboxed: true,
    run: (ctx): Promise<ExtractResult> => withConnections((resources) => extractStep(resources, stepContext(ctx, options))),
  });
}

/** `heuristics` (sandboxed, after `extract`): every class scored for every member with history; the baseline and the fallback. */
export function heuristicsTask({ extract, options }: { extract: ExtractTask } & PicksTaskOptions): HeuristicsTask {
  return task({
    taskId: 'heuristics',
    upstream: [extract],
    doc: "Scores every class for every member by their usual discipline, duration and instructor: the baseline and the fallback.",
    sandboxed: true,
    run: async (ctx): Promise<HeuristicsResult> => {
      const extracted = await ctx.upstream(extract);
      return withConnections((resources) => heuristicsStep(resources, stepContext(ctx, options), extracted));
    },
  });
}

/**
 * `attribute_conversions` (after `extract`, for the run's data clock): attributes the workouts
 * of the last days to the impressions they followed (feedback.conversion, never counted twice)
 * and drops the feedback partitions older than the retention (`FLYWHEEL_FEEDBACK_RETENTION_DAYS`,
 * counted from the same clock, so simulated days age out as real ones do). It retries and fails
 * like any task, but never holds up the picks: `select_ranking` waits for it whatever its
 * state (see selectRankingTask's `after`), so `filter_rows` sees today's conversions when there
 * are any, and yesterday's when attribution failed.
 */
export function attributeConversionsTask({ extract, options }: { extract: ExtractTask } & PicksTaskOptions): AttributeConversionsTask {
  return task({
    taskId: 'attribute_conversions',
    upstream: [extract],
    doc: 'Attributes workouts to the picks shown before them (conversions, once per workout) and drops feedback older than the retention.',
    run: async (ctx): Promise<AttributeConversionsResult> => {
      const extracted = await ctx.upstream(extract);
      return withConnections((resources) => attributeConversionsStep(resources, stepContext(ctx, options), extracted));
    },
  });
}

/**
 * `select_ranking` (trigger rule `all_done`): runs whatever the ranking tasks did and always
 * succeeds, returning the first ranking that succeeded, in the order given, or null (heuristic
 * rows). So `filter_rows` can keep `all_success` and fail fast when extract or heuristics failed.
 * It also waits for the tasks in `after`, whatever their state: what `filter_rows` reads from
 * the database rather than from them (`attribute_conversions`' conversions) is then as fresh as
 * it will be this run, and their failure does not stop the picks.
 */
export function selectRankingTask({ rankings, after = [] }: { rankings: readonly RankingTask[]; after?: readonly AnyTaskHandle[] }): SelectRankingTask {
  return task({
    taskId: 'select_ranking',
    upstream: [...rankings, ...after],
    triggerRule: 'all_done',
    doc: 'The first ranking the ranker’s tasks produced, in order of preference; none means heuristic rows.',
    run: async (ctx): Promise<ModelRanking | null> => {
      for (const waited of after) {
        try {
          await ctx.upstream(waited);
        } catch (error) {
          ctx.log.warn(`${waited.taskId} did not succeed (${(error as Error).message}); the rows go ahead without it`);
        }
      }
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
}

/**
 * `filter_rows` (sandboxed, after `extract`, `heuristics` and, with a ranker, `select_ranking`):
 * each member's ranked list cut into the named rows and `ranked`. Active members get the
 * selected model ranking, the others the heuristics', members without history popular classes.
 */
export function filterRowsTask({ extract, heuristics, selectRanking = null, options }: { extract: ExtractTask; heuristics: HeuristicsTask; selectRanking?: SelectRankingTask | null } & PicksTaskOptions): FilterRowsTask {
  return task({
    taskId: 'filter_rows',
    upstream: selectRanking ? [extract, heuristics, selectRanking] : [extract, heuristics],
    doc: 'Cuts each ranked list into for_your_usual, quick_workout, something_new and ranked; falls back to heuristics or popularity.',
    sandboxed: true,
    run: async (ctx): Promise<RowsResult> => {
      const extracted = await ctx.upstream(extract);
      const baseline = await ctx.upstream(heuristics);
      const model = selectRanking ? await ctx.upstream(selectRanking) : null;
      return withConnections((resources) => rowsStep(resources, stepContext(ctx, options), { extract: extracted, heuristics: baseline, model }));
    },
  });
}

/** `publish` (sandboxed, after `filter_rows`): the rows swapped into the `picks` table atomically and the serving cache filled. */
export function publishTask({ filterRows, options }: { filterRows: FilterRowsTask } & PicksTaskOptions): PublishTask {
  return task({
    taskId: 'publish',
    upstream: [filterRows],
    doc: 'Swaps the run’s picks into the picks table atomically (the previous set is kept) and fills the serving cache.',
    sandboxed: true,
    run: async (ctx): Promise<PublishResult> => {
      const rows = await ctx.upstream(filterRows);
      return withConnections((resources) => publishStep(resources, stepContext(ctx, options), rows));
    },
  });
}
