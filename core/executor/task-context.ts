import type { JsonObject, JsonValue } from '../sdk/json.ts';
import type { AnyTaskHandle, TaskContext, TaskLogger } from '../sdk/task.ts';

export interface ContextFields {
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  maxTries: number;
  logicalDate: Date;
  dataInterval: { start: Date; end: Date };
  conf: JsonObject;
  signal: AbortSignal;
  log: TaskLogger;
  upstreamIds: readonly string[];
  /** Reads the state and output of upstream tasks. */
  readUpstream: (taskId: string) => Promise<{ state: string; output: JsonValue | null } | undefined>;
}

/** Builds the `ctx` a task's `run` receives. */
export function createTaskContext(fields: ContextFields): TaskContext {
  const { readUpstream, upstreamIds, ...rest } = fields;
  return {
    ...rest,
    async upstream<H extends AnyTaskHandle>(handle: H) {
      const upstreamId = handle.taskId;
      if (!upstreamIds.includes(upstreamId)) {
        throw new Error(`task "${fields.taskId}" asked for the output of "${upstreamId}", which is not one of its upstream tasks`);
      }
      const found = await readUpstream(upstreamId);
      if (!found || found.state !== 'success') {
        throw new Error(`upstream task "${upstreamId}" has no output: its state is ${found?.state ?? 'unknown'}, not success`);
      }
      return found.output as never;
    },
  };
}
