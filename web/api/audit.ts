import express from 'express';
import { z } from 'zod';
import { auditEntryExists, listAuditEntries } from '../../core/db/queries/audit-log.ts';
import { requireRole } from '../auth/middleware.ts';
import { FlywheelError } from '../../core/errors.ts';
import { cursorParam, limitParam, parseInput } from '../http.ts';
import type { ApiContext } from './context.ts';

const auditQuery = z.object({
  limit: limitParam(50, 500),
  cursor: cursorParam,
  dagId: z.string().min(1).max(250).optional(),
  actor: z.string().min(1).max(64).optional(),
  action: z.string().min(1).max(64).optional(),
});

/** `/auditLog`: write actions, newest first, keyset-paginated. */
export function auditRouter(context: ApiContext): express.Router {
  const router = express.Router();
  router.get('/auditLog', requireRole('viewer'), async (req, res) => {
    const q = parseInput(auditQuery, req.query, 'query');
    if (q.cursor !== undefined && !(await auditEntryExists(context.db, q.cursor))) throw new FlywheelError('invalid', 'cursor: no such audit entry');
    const entries = await listAuditEntries(context.db, {
      limit: q.limit,
      ...(q.cursor !== undefined ? { before: q.cursor } : {}),
      ...(q.dagId ? { dagId: q.dagId } : {}),
      ...(q.actor ? { actor: q.actor } : {}),
      ...(q.action ? { action: q.action } : {}),
    });
    const last = entries.at(-1);
    res.json({ entries, nextCursor: entries.length === q.limit && last ? String(last.id) : null });
  });
  return router;
}
