import type { LogLevel } from '../db/schema/task-log.ts';
import type { JsonObject, JsonValue } from '../sdk/json.ts';

/** Parent → sandboxed child: run one try. Dates travel as ISO strings. */
export interface SandboxRunMessage {
  type: 'run';
  file: string;
  dagId: string;
  taskId: string;
  runId: string;
  tryNumber: number;
  maxTries: number;
  logicalDate: string;
  dataInterval: { start: string; end: string };
  conf: JsonObject;
  /** Outputs of the task's upstream tasks that succeeded. */
  upstreamOutputs: Record<string, { state: string; output: JsonValue | null }>;
}

/** Child → parent. */
export type SandboxChildMessage =
  | { type: 'log'; level: LogLevel; message: string; at: string }
  | { type: 'result'; output: unknown }
  | { type: 'error'; message: string; stack?: string };
