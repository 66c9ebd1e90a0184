/**
 * Unit tests for DAG tasks without PostgreSQL, Redis or a scheduler:
 * `import { runTask } from 'flywheel/testing'` in a DAG repository's vitest (or any) tests.
 */
import { createTaskContext } from '../executor/task-context.ts';
import { toXCom } from '../executor/json-output.ts';
import type { Dag } from '../sdk/dag.ts';
import type { JsonObject, JsonValue } from '../sdk/json.ts';
import type { TaskLogger } from '../sdk/task.ts';

export interface RunTaskOptions {
  /**
   * What `ctx.upstream(handle)` returns for each upstream task, by task id. An upstream task
   * left out reads as one that did not succeed (`ctx.upstream` throws, as in a real run).
   * @defaultValue {}
   */
  upstream?: Readonly<Record<string, JsonValue>>;
  /** The run's conf, checked by the DAG's `validateConf` as a trigger would. @defaultValue {} */
  conf?: JsonObject;
  /** @defaultValue the current time */
  logicalDate?: Date;
  /** @defaultValue the DAG's schedule interval starting at `logicalDate` ([logicalDate, logicalDate] when unscheduled) */
  dataInterval?: { start: Date; end: Date };
  /** @defaultValue 1 */
  tryNumber?: number;
  /** Aborts the task as a timeout or cancel would (the task sees `ctx.signal`). */
  signal?: AbortSignal;
  /**
   * The XCom size cap the output is checked against.
   * @defaultValue 1048576 (the default of FLYWHEEL_XCOM_MAX_BYTES)
   */
  maxOutputBytes?: number;
}

/** One line a task logged through `ctx.log`. */
export interface TaskLogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
}

export interface TaskRunResult {
  /** The task's return value as its downstream tasks would read it (`undefined` → `null`). */
  output: JsonValue;
  logs: TaskLogLine[];
}

/**
 * Runs one task of `dag` in this process, as a worker would run a try: the same `ctx`, the
 * same checks of the conf and of the output (JSON, within the XCom cap). Throws what the task
 * throws.
 */
export async function runTask(dag: Dag, taskId: string, options: RunTaskOptions = {}): Promise<TaskRunResult> {
  const definition = dag.task(taskId);
  const conf = options.conf ?? {};
  dag.validateConf?.(conf);
  const logicalDate = options.logicalDate ?? new Date();
  const dataInterval = options.dataInterval ?? (dag.timetable ? dag.timetable.intervalFor(logicalDate) : { start: logicalDate, end: logicalDate });
  const logs: TaskLogLine[] = [];
  const emit = (level: TaskLogLine['level']) => (message: string) => void logs.push({ level, message: String(message) });
  const log = Object.assign(emit('info'), { info: emit('info'), warn: emit('warn'), error: emit('error') }) as TaskLogger;
  const upstream = options.upstream ?? {};
  const tryNumber = options.tryNumber ?? 1;
  const ctx = createTaskContext({
    dagId: dag.dagId,
    runId: `manual__${logicalDate.toISOString()}`,
    taskId,
    tryNumber,
    maxTries: Math.max(tryNumber, definition.retries + 1),
    logicalDate,
    dataInterval,
    conf,
    signal: options.signal ?? new AbortController().signal,
    log,
    upstreamIds: definition.upstreamIds,
    readUpstream: async (upstreamId) => (upstreamId in upstream ? { state: 'success', output: upstream[upstreamId]! } : undefined),
  });
  const value = await definition.run(ctx);
  return { output: toXCom(taskId, value, options.maxOutputBytes ?? 1_048_576), logs };
}
