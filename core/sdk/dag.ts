import { z } from 'zod';
import { parseDuration, type Duration } from './duration.ts';
import { DagDefinitionError } from './errors.ts';
import type { JsonObject } from './json.ts';
import { CronTimetable, assertTimezone, parseDateInZone } from './schedule.ts';
import type { AnyTaskHandle, TaskDefaults, TaskDefinition, TaskHandle, TaskOptions, TaskReturn } from './task.ts';
import { TRIGGER_RULES } from './trigger-rule.ts';

export interface DagOptions {
  /** Unique id: letters, digits, `_`, `-`, `.`. */
  dagId: string;
  /** A 5-field cron string, a preset (`@daily`, `@hourly`, …) or `null` for manual runs only. */
  schedule: string | null;
  /**
   * IANA timezone the cron schedule and naive dates are read in.
   * @defaultValue 'UTC'
   */
  timezone?: string;
  /**
   * Create a run for every missed interval since `startDate` (true) or only the latest (false).
   * @defaultValue false
   */
  catchup?: boolean;
  /** First logical date; required with a schedule. A date without an offset is read in `timezone`. */
  startDate?: string | Date;
  /** No scheduled run has a logical date after this. */
  endDate?: string | Date;
  /**
   * Runs of this DAG in `running` at once; more wait in `queued`.
   * @defaultValue 16
   */
  maxActiveRuns?: number;
  /**
   * Task instances of this DAG queued or running at once, across its runs.
   * @defaultValue 16
   */
  maxActiveTasks?: number;
  /** @defaultValue [] */
  tags?: string[];
  description?: string;
  /**
   * Created paused: no scheduled runs until unpaused.
   * @defaultValue false
   */
  isPausedUponCreation?: boolean;
  /** Defaults for every task's options. */
  defaultArgs?: TaskDefaults;
  /**
   * Checks a manual run's conf when the run is triggered (web API, `flywheel dags trigger`):
   * throws to reject the conf, and the error's message is the reason the caller sees (a 400,
   * CLI exit 2); no run is created. It gets a copy of the conf and returns nothing. Not stored:
   * it lives only in the loaded DAG file.
   */
  validateConf?: (conf: JsonObject) => void;
}

const durationSchema = z.union([z.number().nonnegative(), z.string().min(1)]);
const taskDefaultsSchema = z.strictObject({
  retries: z.number().int().nonnegative().optional(),
  retryDelay: durationSchema.optional(),
  retryExponentialBackoff: z.boolean().optional(),
  maxRetryDelay: durationSchema.optional(),
  executionTimeout: durationSchema.nullable().optional(),
  pool: z.string().regex(/^[A-Za-z0-9_-]+$/, 'pool names use letters, digits, _ and -').optional(),
  priorityWeight: z.number().int().optional(),
  triggerRule: z.enum(TRIGGER_RULES).optional(),
  sandboxed: z.boolean().optional(),
});
const ID_PATTERN = /^[A-Za-z0-9_.-]+$/;
const dagOptionsSchema = z.strictObject({
  dagId: z.string().regex(ID_PATTERN, 'dagId uses letters, digits, _, - and .').max(200),
  schedule: z.string().nullable(),
  timezone: z.string().optional(),
  catchup: z.boolean().optional(),
  startDate: z.union([z.string(), z.date()]).optional(),
  endDate: z.union([z.string(), z.date()]).optional(),
  maxActiveRuns: z.number().int().positive().optional(),
  maxActiveTasks: z.number().int().positive().optional(),
  tags: z.array(z.string()).optional(),
  description: z.string().optional(),
  isPausedUponCreation: z.boolean().optional(),
  defaultArgs: taskDefaultsSchema.optional(),
  validateConf: z.custom<(conf: JsonObject) => void>((value) => typeof value === 'function', 'validateConf must be a function').optional(),
});
const taskOptionsSchema = taskDefaultsSchema.extend({
  taskId: z.string().regex(ID_PATTERN, 'taskId uses letters, digits, _, - and .').max(200),
  upstream: z.array(z.object({ taskId: z.string(), dagId: z.string() }, 'upstream entries must be task handles returned by task()')).optional(),
  dependsOn: z.array(z.string()).optional(),
  doc: z.string().optional(),
  run: z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'run must be a function'),
});

function zodMessage(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'options'}: ${issue.message}`).join('; ');
}

/** A validated DAG: its schedule and its tasks, defaults resolved. */
export class Dag {
  readonly dagId: string;
  readonly schedule: string | null;
  readonly timezone: string;
  readonly timetable: CronTimetable | null;
  readonly catchup: boolean;
  readonly startDate: Date | null;
  readonly endDate: Date | null;
  readonly maxActiveRuns: number;
  readonly maxActiveTasks: number;
  readonly tags: readonly string[];
  readonly description: string | null;
  readonly isPausedUponCreation: boolean;
  /** See {@link DagOptions.validateConf}; null when the DAG accepts any conf. */
  readonly validateConf: ((conf: JsonObject) => void) | null;
  readonly tasks: ReadonlyMap<string, TaskDefinition>;
  /** Every task id, each after all of its upstream tasks. */
  readonly topologicalOrder: readonly string[];
  /** The file it was loaded from; set by the DAG loader. */
  fileloc: string | null = null;
  private readonly downstream = new Map<string, string[]>();

  constructor(options: DagOptions, tasks: TaskDefinition[]) {
    this.dagId = options.dagId;
    this.schedule = options.schedule;
    this.timezone = options.timezone ?? 'UTC';
    const fail = (message: string, taskId?: string): never => {
      throw new DagDefinitionError(`DAG "${this.dagId}"${taskId ? `, task "${taskId}"` : ''}: ${message}`, this.dagId, taskId);
    };
    const orFail = <T>(compute: () => T): T => {
      try {
        return compute();
      } catch (error) {
        return fail((error as Error).message);
      }
    };
    orFail(() => assertTimezone(this.timezone));
    this.timetable = orFail(() => (options.schedule === null ? null : new CronTimetable(options.schedule, this.timezone)));
    this.startDate = orFail(() => (options.startDate === undefined ? null : parseDateInZone(options.startDate, this.timezone)));
    this.endDate = orFail(() => (options.endDate === undefined ? null : parseDateInZone(options.endDate, this.timezone)));
    if (this.timetable && !this.startDate) fail('a scheduled DAG needs a startDate');
    this.catchup = options.catchup ?? false;
    this.maxActiveRuns = options.maxActiveRuns ?? 16;
    this.maxActiveTasks = options.maxActiveTasks ?? 16;
    this.tags = options.tags ?? [];
    this.description = options.description ?? null;
    this.isPausedUponCreation = options.isPausedUponCreation ?? false;
    this.validateConf = options.validateConf ?? null;

    const byId = new Map<string, TaskDefinition>();
    for (const definition of tasks) {
      if (byId.has(definition.taskId)) fail('duplicate taskId', definition.taskId);
      byId.set(definition.taskId, definition);
      this.downstream.set(definition.taskId, []);
    }
    if (byId.size === 0) fail('has no tasks');
    for (const definition of tasks) {
      for (const upstreamId of definition.upstreamIds) {
        if (!byId.has(upstreamId)) fail(`unknown upstream "${upstreamId}"`, definition.taskId);
        if (upstreamId === definition.taskId) fail('depends on itself', definition.taskId);
        this.downstream.get(upstreamId)!.push(definition.taskId);
      }
    }
    this.tasks = byId;
    const cycle = this.findCycle();
    if (cycle) fail(`cycle: ${cycle.join(' → ')}`, cycle[0]);
    this.topologicalOrder = this.sortTopologically();
  }

  private sortTopologically(): string[] {
    const remaining = new Map([...this.tasks.values()].map((t) => [t.taskId, t.upstreamIds.length]));
    const ready = [...remaining].filter(([, count]) => count === 0).map(([taskId]) => taskId);
    const order: string[] = [];
    while (ready.length > 0) {
      const taskId = ready.shift()!;
      order.push(taskId);
      for (const next of this.downstreamOf(taskId)) {
        const count = remaining.get(next)! - 1;
        remaining.set(next, count);
        if (count === 0) ready.push(next);
      }
    }
    return order;
  }

  task(taskId: string): TaskDefinition {
    const definition = this.tasks.get(taskId);
    if (!definition) throw new Error(`DAG "${this.dagId}" has no task "${taskId}"`);
    return definition;
  }

  downstreamOf(taskId: string): readonly string[] {
    return this.downstream.get(taskId) ?? [];
  }

  /** Every task reachable downstream of `taskId` (not including it). */
  allDownstreamOf(taskId: string): Set<string> {
    const seen = new Set<string>();
    const stack = [...this.downstreamOf(taskId)];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...this.downstreamOf(next));
    }
    return seen;
  }

  /** Tasks nothing depends on; they decide a finished run's state. */
  get leaves(): string[] {
    return [...this.tasks.keys()].filter((taskId) => this.downstreamOf(taskId).length === 0);
  }

  private findCycle(): string[] | null {
    const WHITE = 0, GREY = 1, BLACK = 2;
    const colour = new Map<string, number>();
    const path: string[] = [];
    const visit = (taskId: string): string[] | null => {
      colour.set(taskId, GREY);
      path.push(taskId);
      for (const next of this.downstreamOf(taskId)) {
        const c = colour.get(next) ?? WHITE;
        if (c === GREY) return [...path.slice(path.indexOf(next)), next];
        if (c === WHITE) {
          const found = visit(next);
          if (found) return found;
        }
      }
      path.pop();
      colour.set(taskId, BLACK);
      return null;
    };
    for (const taskId of this.tasks.keys()) {
      if ((colour.get(taskId) ?? WHITE) === WHITE) {
        const found = visit(taskId);
        if (found) return found;
      }
    }
    return null;
  }
}

interface DagBuilder {
  options: DagOptions;
  tasks: TaskDefinition[];
}

/** The `dag()` body being declared, so `task()` knows where it belongs. */
let current: DagBuilder | null = null;

/**
 * Declares a DAG. Tasks are declared with {@link task} inside `body`. A DAG file exports the
 * result as its default export.
 */
export function dag(options: DagOptions, body: () => void): Dag {
  const parsed = dagOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const dagId = typeof options?.dagId === 'string' ? options.dagId : '?';
    throw new DagDefinitionError(`DAG "${dagId}": ${zodMessage(parsed.error)}`, dagId);
  }
  if (current) throw new DagDefinitionError(`DAG "${options.dagId}": dag() cannot be nested inside DAG "${current.options.dagId}"`, options.dagId);
  const builder: DagBuilder = { options, tasks: [] };
  current = builder;
  try {
    body();
  } finally {
    current = null;
  }
  return new Dag(options, builder.tasks);
}

const RESOLVED_DEFAULTS = {
  retries: 0,
  retryDelay: '5m' as Duration,
  retryExponentialBackoff: false,
  maxRetryDelay: '1d' as Duration,
  executionTimeout: null as Duration | null,
  pool: 'default',
  priorityWeight: 1,
  triggerRule: 'all_success' as const,
  sandboxed: false,
};

/**
 * Declares a task inside a {@link dag} body and returns its handle. List upstream tasks by
 * handle; `ctx.upstream(handle)` then returns that task's output with its type.
 */
export function task<const TId extends string, const TUpstream extends readonly AnyTaskHandle[] = [], TOut extends TaskReturn = void>(
  options: TaskOptions<TId, TUpstream, TOut> & { dependsOn?: readonly string[] },
): TaskHandle<TId, Awaited<TOut>> {
  const builder = current;
  const taskId = typeof options?.taskId === 'string' ? options.taskId : '?';
  if (!builder) throw new DagDefinitionError(`task "${taskId}" must be declared inside a dag(...) body`, undefined, taskId);
  const dagId = builder.options.dagId;
  const parsed = taskOptionsSchema.safeParse(options);
  if (!parsed.success) throw new DagDefinitionError(`DAG "${dagId}", task "${taskId}": ${zodMessage(parsed.error)}`, dagId, taskId);
  const upstreamIds: string[] = [];
  for (const handle of options.upstream ?? []) {
    if (handle.dagId !== dagId) {
      throw new DagDefinitionError(`DAG "${dagId}", task "${taskId}": unknown upstream "${handle.taskId}" (it belongs to DAG "${handle.dagId}")`, dagId, taskId);
    }
    upstreamIds.push(handle.taskId);
  }
  upstreamIds.push(...(options.dependsOn ?? []));
  const merged = { ...RESOLVED_DEFAULTS, ...stripUndefined(builder.options.defaultArgs ?? {}), ...stripUndefined(options) };
  let definition: TaskDefinition;
  try {
    definition = {
      taskId,
      upstreamIds: [...new Set(upstreamIds)],
      doc: options.doc ?? null,
      retries: merged.retries,
      retryDelayMs: parseDuration(merged.retryDelay, 'retryDelay'),
      retryExponentialBackoff: merged.retryExponentialBackoff,
      maxRetryDelayMs: parseDuration(merged.maxRetryDelay, 'maxRetryDelay'),
      executionTimeoutMs: merged.executionTimeout === null ? null : parseDuration(merged.executionTimeout, 'executionTimeout'),
      pool: merged.pool,
      priorityWeight: merged.priorityWeight,
      triggerRule: merged.triggerRule,
      sandboxed: merged.sandboxed,
      run: options.run as TaskDefinition['run'],
    };
  } catch (error) {
    throw new DagDefinitionError(`DAG "${dagId}", task "${taskId}": ${(error as Error).message}`, dagId, taskId);
  }
  builder.tasks.push(definition);
  return { taskId: options.taskId, dagId };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
