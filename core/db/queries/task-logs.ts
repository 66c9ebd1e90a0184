import { and, asc, eq, sql } from 'drizzle-orm';
import type { Queryable } from '../client.ts';
import { taskLogs, type LogLevel } from '../schema/task-log.ts';

export interface LogLine {
  dagRunId: number;
  taskId: string;
  tryNumber: number;
  loggedAt: Date;
  level: LogLevel;
  message: string;
}

/** Appends log lines (any tries) in one statement. */
export async function appendLogLines(db: Queryable, lines: readonly LogLine[]): Promise<void> {
  if (lines.length === 0) return;
  const payload = JSON.stringify(
    lines.map((l) => ({ dag_run_id: l.dagRunId, task_id: l.taskId, try_number: l.tryNumber, logged_at: l.loggedAt.toISOString(), level: l.level, message: l.message })),
  );
  await db.execute(sql`
    insert into task_log (dag_run_id, task_id, try_number, logged_at, level, message)
    select dag_run_id, task_id, try_number, logged_at, level, message
    from json_to_recordset(${payload}::json) as v(dag_run_id bigint, task_id text, try_number int, logged_at timestamptz, level text, message text)
  `);
}

/** The log lines of one try, in order. */
export async function readLogLines(db: Queryable, dagRunId: number, taskId: string, tryNumber: number) {
  return db
    .select({ loggedAt: taskLogs.loggedAt, level: taskLogs.level, message: taskLogs.message })
    .from(taskLogs)
    .where(and(eq(taskLogs.dagRunId, dagRunId), eq(taskLogs.taskId, taskId), eq(taskLogs.tryNumber, tryNumber)))
    .orderBy(asc(taskLogs.id));
}
