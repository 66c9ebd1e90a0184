import { sql, type SQL } from 'drizzle-orm';
import type { Queryable } from '../client.ts';
import type { AuditAuth } from '../schema/audit-log.ts';
import type { JsonObject } from '../../sdk/json.ts';

/**
 * Records an action inside the action's own transaction (the audit log), so an action is never
 * applied without its record. `outcome` says what it did (run id, tasks cleared).
 */
export type AuditHook = (tx: Queryable, outcome: JsonObject) => Promise<void>;

export interface AuditEntry {
  actor: string;
  userId: number | null;
  auth: AuditAuth;
  action: string;
  dagId?: string | null;
  runId?: string | null;
  taskId?: string | null;
  target?: string | null;
  details?: JsonObject;
  ip?: string | null;
}

export async function insertAuditEntry(db: Queryable, entry: AuditEntry): Promise<void> {
  await db.execute(sql`
    insert into audit_log (actor, user_id, auth, action, dag_id, run_id, task_id, target, details, ip)
    values (${entry.actor}, ${entry.userId}, ${entry.auth}, ${entry.action}, ${entry.dagId ?? null}, ${entry.runId ?? null},
            ${entry.taskId ?? null}, ${entry.target ?? null}, ${JSON.stringify(entry.details ?? {})}::jsonb, ${entry.ip ?? null})
  `);
}

export interface AuditRecord {
  id: number;
  at: Date;
  actor: string;
  auth: AuditAuth;
  action: string;
  dagId: string | null;
  runId: string | null;
  taskId: string | null;
  target: string | null;
  details: JsonObject;
}

export interface AuditQuery {
  limit: number;
  /** Keyset cursor: entries older than the entry with this id. */
  before?: number;
  dagId?: string;
  actor?: string;
  action?: string;
}

/** Audit entries, newest first, by keyset pagination on (at, id). */
export async function listAuditEntries(db: Queryable, query: AuditQuery): Promise<AuditRecord[]> {
  const conditions: SQL[] = [sql`true`];
  if (query.dagId) conditions.push(sql`dag_id = ${query.dagId}`);
  if (query.actor) conditions.push(sql`actor = ${query.actor}`);
  if (query.action) conditions.push(sql`action = ${query.action}`);
  if (query.before !== undefined) {
    conditions.push(sql`at <= (select at from audit_log where id = ${query.before})`);
    conditions.push(sql`(at < (select at from audit_log where id = ${query.before}) or id < ${query.before})`);
  }
  const result = await db.execute<{
    id: number;
    at: Date;
    actor: string;
    auth: AuditAuth;
    action: string;
    dag_id: string | null;
    run_id: string | null;
    task_id: string | null;
    target: string | null;
    details: JsonObject;
  }>(sql`
    select id, at, actor, auth, action, dag_id, run_id, task_id, target, details
    from audit_log where ${sql.join(conditions, sql` and `)}
    order by at desc, id desc limit ${query.limit}
  `);
  return result.rows.map((row) => ({
    id: row.id,
    at: new Date(row.at),
    actor: row.actor,
    auth: row.auth,
    action: row.action,
    dagId: row.dag_id,
    runId: row.run_id,
    taskId: row.task_id,
    target: row.target,
    details: row.details,
  }));
}

export async function auditEntryExists(db: Queryable, id: number): Promise<boolean> {
  const result = await db.execute(sql`select 1 from audit_log where id = ${id}`);
  return result.rows.length > 0;
}
