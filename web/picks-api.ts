import express from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Database } from '../core/db/client.ts';
import { InvalidMemberIdError, PicksReader, type MemberPicksView } from '../operators/daily-picks/picks-reader.ts';
import { HttpError, parseParam } from './http.ts';

export interface PicksApiOptions {
  db: Database;
  redis: Redis;
  /** Redis key prefix of the serving cache (the installation's queue prefix). */
  cachePrefix: string;
}

const rowsParam = z
  .string()
  .regex(/^[a-z_]+(,[a-z_]+)*$/, 'a comma-separated list of row names, e.g. for_your_usual,quick_workout')
  .transform((value) => new Set(value.split(',')))
  .optional();

/**
 * The picks serving API, for product services: `GET /members/:memberId/picks[?rows=a,b]`.
 * Public (no session): mount it above the auth middleware.
 */
export function picksRouter(options: PicksApiOptions): express.Router {
  const reader = new PicksReader({ db: options.db, redis: options.redis, cachePrefix: options.cachePrefix });
  const router = express.Router();
  router.get('/members/:memberId/picks', async (req, res) => {
    const rows = parseParam(rowsParam, req.query.rows, 'rows');
    let view: MemberPicksView;
    try {
      view = await reader.get(req.params.memberId);
    } catch (error) {
      if (error instanceof InvalidMemberIdError) throw new HttpError(400, `memberId: ${error.message}`);
      throw error;
    }
    if (rows) view = { ...view, rows: view.rows.filter((row) => rows.has(row.row)) };
    res.json(view);
  });
  return router;
}
