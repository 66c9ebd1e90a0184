import express from 'express';
import { asc } from 'drizzle-orm';
import { z } from 'zod';
import { pools } from '../../core/db/schema/pool.ts';
import { setPool } from '../../core/pools.ts';
import { auditHook, requireRole, requireWrite } from '../auth/middleware.ts';
import { parseInput } from '../http.ts';
import type { ApiContext } from './context.ts';

const poolBody = z
  .object({
    slots: z.number().int().min(1).max(100_000),
    description: z.string().max(500).optional(),
  })
  .strict();

/** `/pools` (read), `PUT /pools/:name` (admin: create or resize). */
export function poolsRouter(context: ApiContext): express.Router {
  const router = express.Router();

  router.get('/pools', requireRole('viewer'), async (_req, res) => {
    const rows = await context.db.select().from(pools).orderBy(asc(pools.name));
    const active = await context.db.execute<{ pool: string; running: number; queued: number }>(
      `select pool, count(*) filter (where state = 'running')::int as running, count(*) filter (where state = 'queued')::int as queued
       from task_instance where state in ('running', 'queued') group by pool`,
    );
    const byPool = new Map(active.rows.map((row) => [row.pool, row]));
    res.json({ pools: rows.map((row) => ({ ...row, running: byPool.get(row.name)?.running ?? 0, queued: byPool.get(row.name)?.queued ?? 0 })) });
  });

  router.put('/pools/:name', requireWrite('admin'), async (req, res) => {
    const name = req.params.name as string;
    const body = parseInput(poolBody, req.body);
    await setPool(context.db, context.actions.executor, { name, slots: body.slots, ...(body.description !== undefined ? { description: body.description } : {}) });
    await auditHook(req, 'pool.set', { target: name, details: { slots: body.slots } })(context.db, {});
    res.json({ name, slots: body.slots });
  });

  return router;
}
