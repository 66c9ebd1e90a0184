/**
 * A DAG definition that cannot be scheduled: a cycle, a duplicate or unknown task, a bad
 * cron string or timezone. The message names the DAG (and file, once loaded) and the task.
 */
export class DagDefinitionError extends Error {
  override readonly name = 'DagDefinitionError';
  constructor(
    message: string,
    readonly dagId?: string,
    readonly taskId?: string,
  ) {
    super(message);
  }
}

/** A task output larger than the XCom size cap. */
export class XComTooLargeError extends Error {
  override readonly name = 'XComTooLargeError';
  constructor(
    readonly taskId: string,
    readonly bytes: number,
    readonly limitBytes: number,
  ) {
    super(
      `output of task "${taskId}" is ${bytes} bytes of JSON, over the XCom cap of ${limitBytes} bytes; ` +
        'write large data to the artifact store and return its reference instead',
    );
  }
}

/** A task output that is not JSON (a function, a Date, NaN, a cycle…). */
export class TaskOutputNotJsonError extends Error {
  override readonly name = 'TaskOutputNotJsonError';
  constructor(
    readonly taskId: string,
    detail: string,
  ) {
    super(`output of task "${taskId}" is not JSON: ${detail}`);
  }
}

/** Thrown into `ctx.signal` when a try runs past its `executionTimeout`. */
export class TaskTimeoutError extends Error {
  override readonly name = 'TaskTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`task ran past its executionTimeout of ${timeoutMs} ms`);
  }
}

/** Thrown into `ctx.signal` when the try is cancelled (cleared, marked, or its worker shuts down). */
export class TaskCancelledError extends Error {
  override readonly name = 'TaskCancelledError';
  constructor(reason: string) {
    super(`task was cancelled: ${reason}`);
  }
}
