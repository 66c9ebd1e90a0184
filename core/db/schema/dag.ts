import { boolean, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** The structure of one task as stored for the UI and CLI (the code stays in the DAG file). */
export interface StoredTask {
  taskId: string;
  upstream: string[];
  pool: string;
  triggerRule: string;
  retries: number;
  priorityWeight: number;
  sandboxed: boolean;
  executionTimeoutMs: number | null;
  doc: string | null;
}

/** One row per DAG found in the DAGs folder: its parsed options and the scheduler's bookkeeping. */
export const dags = pgTable('dag', {
  dagId: text('dag_id').primaryKey(),
  fileloc: text('fileloc').notNull(),
  schedule: text('schedule'),
  timezone: text('timezone').notNull(),
  catchup: boolean('catchup').notNull(),
  startDate: timestamp('start_date', { withTimezone: true, mode: 'date' }),
  endDate: timestamp('end_date', { withTimezone: true, mode: 'date' }),
  maxActiveRuns: integer('max_active_runs').notNull(),
  maxActiveTasks: integer('max_active_tasks').notNull(),
  tags: jsonb('tags').$type<string[]>().notNull().default([]),
  description: text('description'),
  tasks: jsonb('tasks').$type<StoredTask[]>().notNull(),
  isPaused: boolean('is_paused').notNull().default(false),
  /** False once the file no longer defines the DAG. */
  isActive: boolean('is_active').notNull().default(true),
  /** Logical date of the next scheduled run to create. */
  nextDagrun: timestamp('next_dagrun', { withTimezone: true, mode: 'date' }),
  /** When that run may be created: the end of its data interval. */
  nextDagrunCreateAfter: timestamp('next_dagrun_create_after', { withTimezone: true, mode: 'date' }),
  lastParsedAt: timestamp('last_parsed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

export type DagRow = typeof dags.$inferSelect;
