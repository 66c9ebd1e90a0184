import { bigint, doublePrecision, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import type { JsonValue } from '../../sdk/json.ts';
import type { TaskState } from '../../sdk/states.ts';
import { dagRuns } from './dag-run.ts';

/** One row per finished try of a task instance, so every try stays visible after a retry or clear. */
export const taskTries = pgTable(
  'task_try',
  {
    dagRunId: bigint('dag_run_id', { mode: 'number' })
      .notNull()
      .references(() => dagRuns.id, { onDelete: 'cascade' }),
    taskId: text('task_id').notNull(),
    tryNumber: integer('try_number').notNull(),
    state: text('state').$type<TaskState>().notNull(),
    startDate: timestamp('start_date', { withTimezone: true, mode: 'date', precision: 6 }),
    endDate: timestamp('end_date', { withTimezone: true, mode: 'date', precision: 6 }),
    durationMs: doublePrecision('duration_ms'),
    hostname: text('hostname'),
    pid: integer('pid'),
    output: jsonb('output').$type<JsonValue>(),
    error: text('error'),
  },
  (table) => [primaryKey({ columns: [table.dagRunId, table.taskId, table.tryNumber] })],
);

export type TaskTryRow = typeof taskTries.$inferSelect;
