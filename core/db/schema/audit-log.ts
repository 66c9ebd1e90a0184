import { sql } from 'drizzle-orm';
import { bigserial, check, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { JsonObject } from '../../sdk/json.ts';
import { users } from './user.ts';

/** How the actor was authenticated. */
export type AuditAuth = 'session' | 'token' | 'cli';

/** One write action (who, what, when, on what). Rows are only ever inserted. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true, mode: 'date', precision: 6 }).notNull().defaultNow(),
    /** Username at the time of the action (kept if the user is later deleted). */
    actor: text('actor').notNull(),
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    auth: text('auth').$type<AuditAuth>().notNull(),
    /** Dotted verb, e.g. `dag.trigger`, `task.clear`, `task.mark_success`, `dag.pause`, `pool.set`, `auth.login`. */
    action: text('action').notNull(),
    dagId: text('dag_id'),
    runId: text('run_id'),
    taskId: text('task_id'),
    /** Human-readable target, e.g. `daily_picks / manual__… / train`. */
    target: text('target'),
    /** Action parameters and outcome (conf, downstream, task ids changed). Never secrets. */
    details: jsonb('details').$type<JsonObject>().notNull().default({}),
    ip: text('ip'),
  },
  (table) => [
    index('audit_log_at_idx').on(table.at.desc(), table.id.desc()),
    index('audit_log_dag_id_at_idx').on(table.dagId, table.at.desc(), table.id.desc()),
    check('audit_log_auth_check', sql`${table.auth} in ('session', 'token', 'cli')`),
  ],
);

export type AuditLogRow = typeof auditLog.$inferSelect;
