import { and, asc, eq, sql } from 'drizzle-orm';
import type { Queryable } from '../client.ts';
import { taskInstances, type TaskInstanceRow } from '../schema/task-instance.ts';
import { taskTries, type TaskTryRow } from '../schema/task-try.ts';
import type { JsonValue } from '../../sdk/json.ts';
import type { TaskState } from '../../sdk/states.ts';

export async function listTaskInstances(db: Queryable, dagRunId: number): Promise<TaskInstanceRow[]> {
  return db.select().from(taskInstances).where(eq(taskInstances.dagRunId, dagRunId)).orderBy(asc(taskInstances.taskId));
}

export async function getTaskInstance(db: Queryable, dagRunId: number, taskId: string): Promise<TaskInstanceRow | undefined> {
  const [row] = await db.select().from(taskInstances).where(and(eq(taskInstances.dagRunId, dagRunId), eq(taskInstances.taskId, taskId)));
  return row;
}

/** Every finished try of a task instance, oldest first. */
export async function listTaskTries(db: Queryable, dagRunId: number, taskId: string): Promise<TaskTryRow[]> {
  return db
    .select()
    .from(taskTries)
    .where(and(eq(taskTries.dagRunId, dagRunId), eq(taskTries.taskId, taskId)))
    .orderBy(asc(taskTries.tryNumber));
}

/** Outputs of the given upstream tasks of a run that succeeded (XCom `return_value`). */
export async function readOutputs(tx: Queryable, dagRunId: number, taskIds: readonly string[]): Promise<Map<string, { state: TaskState; output: JsonValue | null }>> {
  if (taskIds.length === 0) return new Map();
  const result = await tx.execute<{ task_id: string; state: TaskState; output: JsonValue | null }>(sql`
    select task_id, state, output from task_instance where dag_run_id = ${dagRunId} and task_id = any(${sql.param([...taskIds])}::text[])
  `);
  return new Map(result.rows.map((row) => [row.task_id, { state: row.state, output: row.output }]));
}
