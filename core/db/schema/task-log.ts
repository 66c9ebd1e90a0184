import { bigint, bigserial, index, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { dagRuns } from './dag-run.ts';

export type LogLevel = 'info' | 'warn' | 'error';

/** Log lines of one try, in order. */
export const taskLogs = pgTable(
  'task_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    dagRunId: bigint('dag_run_id', { mode: 'number' })
      .notNull()
      .references(() => dagRuns.id, { onDelete: 'cascade' }),
    taskId: text('task_id').notNull(),
    tryNumber: integer('try_number').notNull(),
    loggedAt: timestamp('logged_at', { withTimezone: true, mode: 'date', precision: 6 }).notNull(),
    level: text('level').$type<LogLevel>().notNull(),
    message: text('message').notNull(),
  },
  (table) => [index('task_log_try_idx').on(table.dagRunId, table.taskId, table.tryNumber, table.id)],
);
