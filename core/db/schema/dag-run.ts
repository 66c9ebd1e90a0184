import { sql } from 'drizzle-orm';
import { bigserial, index, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { JsonObject } from '../../sdk/json.ts';
import type { DagRunState, RunType } from '../../sdk/states.ts';
import { dags } from './dag.ts';

export const dagRuns = pgTable(
  'dag_run',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    dagId: text('dag_id').notNull().references(() => dags.dagId),
    runId: text('run_id').notNull(),
    runType: text('run_type').$type<RunType>().notNull(),
    logicalDate: timestamp('logical_date', { withTimezone: true, mode: 'date' }).notNull(),
    dataIntervalStart: timestamp('data_interval_start', { withTimezone: true, mode: 'date' }).notNull(),
    dataIntervalEnd: timestamp('data_interval_end', { withTimezone: true, mode: 'date' }).notNull(),
    state: text('state').$type<DagRunState>().notNull().default('queued'),
    conf: jsonb('conf').$type<JsonObject>().notNull().default({}),
    queuedAt: timestamp('queued_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    startDate: timestamp('start_date', { withTimezone: true, mode: 'date' }),
    endDate: timestamp('end_date', { withTimezone: true, mode: 'date' }),
    /** Who or what created it: a username, `scheduler`, `cli`. */
    triggeredBy: text('triggered_by'),
    /**
     * BullMQ key prefix for this run's jobs, whoever enqueues them; null = the installation's.
     * `dags test` gives its run private queues so no other worker takes its tasks.
     */
    queuePrefix: text('queue_prefix'),
  },
  (table) => [
    uniqueIndex('dag_run_dag_id_run_id_key').on(table.dagId, table.runId),
    // Two schedulers racing, or a backfill over a scheduled date, cannot create the same interval twice.
    uniqueIndex('dag_run_dag_id_logical_date_key')
      .on(table.dagId, table.logicalDate)
      .where(sql`run_type in ('scheduled', 'backfill')`),
    index('dag_run_state_idx').on(table.state),
    // A DAG's runs newest first, ties by id: the API's keyset pages are index range scans at any depth.
    index('dag_run_dag_id_logical_date_id_idx').on(table.dagId, table.logicalDate.desc().nullsFirst(), table.id.desc().nullsFirst()),
  ],
);

export type DagRunRow = typeof dagRuns.$inferSelect;
