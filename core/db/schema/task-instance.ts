import { sql } from 'drizzle-orm';
import { bigint, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import type { JsonValue } from '../../sdk/json.ts';
import type { TaskState } from '../../sdk/states.ts';
import { dagRuns } from './dag-run.ts';

/** The current state of one task in one DAG run; its past tries are in `task_try`. */
export const taskInstances = pgTable(
  'task_instance',
  {
    dagRunId: bigint('dag_run_id', { mode: 'number' })
      .notNull()
      .references(() => dagRuns.id, { onDelete: 'cascade' }),
    taskId: text('task_id').notNull(),
    dagId: text('dag_id').notNull(),
    runId: text('run_id').notNull(),
    state: text('state').$type<TaskState>().notNull().default('none'),
    /** The current (or last) try; 0 before the first. */
    tryNumber: integer('try_number').notNull().default(0),
    maxTries: integer('max_tries').notNull(),
    pool: text('pool').notNull(),
    priorityWeight: integer('priority_weight').notNull(),
    queuedAt: timestamp('queued_at', { withTimezone: true, mode: 'date', precision: 6 }),
    startDate: timestamp('start_date', { withTimezone: true, mode: 'date', precision: 6 }),
    endDate: timestamp('end_date', { withTimezone: true, mode: 'date', precision: 6 }),
    durationMs: doublePrecision('duration_ms'),
    hostname: text('hostname'),
    pid: integer('pid'),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true, mode: 'date' }),
    nextRetryAt: timestamp('next_retry_at', { withTimezone: true, mode: 'date' }),
    /** The task's return value (XCom `return_value`). */
    output: jsonb('output').$type<JsonValue>(),
    error: text('error'),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.dagRunId, table.taskId] }),
    index('task_instance_dag_id_state_idx').on(table.dagId, table.state),
    index('task_instance_active_idx')
      .on(table.state, table.heartbeatAt)
      .where(sql`state in ('queued', 'running', 'up_for_retry', 'scheduled')`),
  ],
);

export type TaskInstanceRow = typeof taskInstances.$inferSelect;
