import { and, asc, eq } from 'drizzle-orm';
import type { Queryable } from '../client.ts';
import { taskInstances, type TaskInstanceRow } from '../schema/task-instance.ts';
import { taskTries, type TaskTryRow } from '../schema/task-try.ts';

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
