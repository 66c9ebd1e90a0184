import type { Duration } from './duration.ts';
import type { JsonObject, JsonValue } from './json.ts';
import type { TriggerRule } from './trigger-rule.ts';
import type { DataInterval } from './schedule.ts';

declare const outputBrand: unique symbol;

/** What a task's `run` may return: JSON, or nothing (stored as `null`). */
export type TaskReturn = JsonValue | void | undefined;

/**
 * The reference to a declared task. Pass it in another task's `upstream` to depend on it,
 * and to `ctx.upstream(handle)` to read its output, typed as `TOutput`.
 */
export interface TaskHandle<TId extends string = string, TOutput = unknown> {
  readonly taskId: TId;
  readonly dagId: string;
  /** Type-level only: carries the output type. */
  readonly [outputBrand]?: TOutput;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the widest handle, for constraints only
export type AnyTaskHandle = TaskHandle<string, any>;

/** The output type of a task handle, with `void` read back as `null`. */
export type OutputOf<H> = H extends TaskHandle<string, infer O> ? (O extends void | undefined ? null : O) : never;

/** One line of a try's log; lines are stored with the try and shown by `tasks logs` and the UI. */
export interface TaskLogger {
  (message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** What a running task sees. `TUpstream` are its upstream handles; `upstream()` accepts only those. */
export interface TaskContext<TUpstream extends readonly AnyTaskHandle[] = readonly AnyTaskHandle[]> {
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  /** 1 on the first try. */
  readonly tryNumber: number;
  readonly maxTries: number;
  readonly logicalDate: Date;
  readonly dataInterval: DataInterval;
  /** The run's conf (from a manual trigger), `{}` otherwise. */
  readonly conf: JsonObject;
  /** Fired on execution timeout, cancel (clear / mark) or worker shutdown. */
  readonly signal: AbortSignal;
  readonly log: TaskLogger;
  /** The output of an upstream task, typed by its handle. */
  upstream<H extends TUpstream[number]>(handle: H): Promise<OutputOf<H>>;
}

/** Options shared by `defaultArgs` and every task. */
export interface TaskDefaults {
  /**
   * Retries after the first try (`maxTries = retries + 1`).
   * @defaultValue 0
   */
  retries?: number;
  /**
   * Delay before a retry.
   * @defaultValue '5m'
   */
  retryDelay?: Duration;
  /**
   * Double the delay on each retry (capped by `maxRetryDelay`).
   * @defaultValue false
   */
  retryExponentialBackoff?: boolean;
  /**
   * Cap on the retry delay.
   * @defaultValue '1d'
   */
  maxRetryDelay?: Duration;
  /**
   * A try running longer is aborted (`ctx.signal`) and failed. `null` = no limit.
   * @defaultValue null
   */
  executionTimeout?: Duration | null;
  /**
   * The worker pool (a BullMQ queue plus a slot limit).
   * @defaultValue 'default'
   */
  pool?: string;
  /**
   * Higher runs first when slots are short.
   * @defaultValue 1
   */
  priorityWeight?: number;
  /**
   * When the task runs, given its upstream states.
   * @defaultValue 'all_success'
   */
  triggerRule?: TriggerRule;
  /**
   * Run the try in a child process, so CPU-bound work never stalls the worker (lock
   * renewal, heartbeats) and a timeout can kill it.
   * @defaultValue false
   */
  sandboxed?: boolean;
}

export interface TaskOptions<TId extends string, TUpstream extends readonly AnyTaskHandle[], TOut> extends TaskDefaults {
  taskId: TId;
  upstream?: TUpstream;
  /** Human-readable description, shown in the UI. */
  doc?: string;
  run: (ctx: TaskContext<TUpstream>) => Promise<TOut> | TOut;
}

/** A task as the scheduler and workers see it, defaults resolved. */
export interface TaskDefinition {
  readonly taskId: string;
  readonly upstreamIds: readonly string[];
  readonly doc: string | null;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly retryExponentialBackoff: boolean;
  readonly maxRetryDelayMs: number;
  readonly executionTimeoutMs: number | null;
  readonly pool: string;
  readonly priorityWeight: number;
  readonly triggerRule: TriggerRule;
  readonly sandboxed: boolean;
  readonly run: (ctx: TaskContext) => Promise<TaskReturn> | TaskReturn;
}
