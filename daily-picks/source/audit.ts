/**
 * Source writes in the audit log: a successful `seed` / `import` records who changed the source
 * data, in the same transaction as the load (the entry and the data land together, or neither).
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { insertAuditEntry } from '../../core/db/queries/audit-log.ts';
import type { AuditAuth } from '../../core/db/schema/audit-log.ts';
import * as schema from '../../core/db/schema/index.ts';
import type { TransactionClient } from '../../core/db/transaction.ts';
import type { JsonObject } from '../../core/sdk/json.ts';

/** Who is loading the data, as the audit log records it (the CLI: `cliActor()`, auth `cli`). */
export interface SourceAudit {
  actor: string;
  auth: AuditAuth;
  userId?: number | null;
}

export type SourceAuditAction = 'source.seed' | 'source.import_interactions' | 'source.import_items';

/** Writes the audit entry through `client`, inside its open transaction. Nothing without `audit`. */
export async function auditSourceWrite(
  client: TransactionClient,
  audit: SourceAudit | undefined,
  action: SourceAuditAction,
  target: string,
  details: JsonObject,
): Promise<void> {
  if (!audit) return;
  await insertAuditEntry(drizzle(client, { schema }), { actor: audit.actor, userId: audit.userId ?? null, auth: audit.auth, action, target, details });
}
