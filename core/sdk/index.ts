/**
 * The DAG authoring API: `import { dag, task } from 'flywheel'`. Pure declarations, no I/O.
 */
export { dag, task, Dag, type DagOptions } from './dag.ts';
export type { TaskContext, TaskHandle, TaskDefaults, TaskOptions, TaskDefinition, TaskLogger, OutputOf, TaskReturn, AnyTaskHandle } from './task.ts';
export type { JsonValue, JsonObject, JsonPrimitive } from './json.ts';
export { parseDuration, type Duration } from './duration.ts';
export { TRIGGER_RULES, isTriggerRule, type TriggerRule } from './trigger-rule.ts';
export { TASK_STATES, FINISHED_TASK_STATES, DAG_RUN_STATES, RUN_TYPES, isFinishedTaskState, type TaskState, type FinishedTaskState, type DagRunState, type RunType } from './states.ts';
export { CronTimetable, SCHEDULE_PRESETS, type DataInterval } from './schedule.ts';
export { DagDefinitionError, XComTooLargeError, TaskOutputNotJsonError, TaskTimeoutError, TaskCancelledError } from './errors.ts';
