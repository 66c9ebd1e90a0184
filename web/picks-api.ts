import express from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Database } from '../core/db/client.ts';
import { FlywheelError } from '../core/errors.ts';
import { PicksReader } from '../daily-picks/picks-reader.ts';
import { ROW_NAMES } from '../daily-picks/rows/row-specs.ts';
import { parseParam } from './http.ts';

export interface PicksApiOptions {
  db: Database;
  redis: Redis;
  /** Redis key prefix of the serving cache (the installation's queue prefix). */
  cachePrefix: string;
}

const rowsParam = z
  .string()
  .regex(/^[a-z_]+(,[a-z_]+)*$/, `a comma-separated list of row names: ${ROW_NAMES.join(', ')}`)
  .refine((value) => value.split(',').every((row) => (ROW_NAMES as readonly string[]).includes(row)), {
    message: `unknown row name; rows are ${ROW_NAMES.join(', ')}`,
  })
  .transform((value) => new Set(value.split(',')))
  .optional();

/**
 * Response headers of the picks API: a JSON API's share of what helmet sends for the UI
 * (OWASP REST headers). Set directly: the router is mounted above helmet and the static files.
 */
const API_HEADERS: readonly [string, string][] = [
  ['Cache-Control', 'no-store'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
];

/**
 * The picks serving API, for product services: `GET /members/:memberId/picks[?rows=a,b]`.
 * Public (no session): mount it above the auth middleware.
 */
export function picksRouter(options: PicksApiOptions): express.Router {
  const reader = new PicksReader({ db: options.db, redis: options.redis, cachePrefix: options.cachePrefix });
  const router = express.Router();
  // `/members//picks`: an empty id, not an unknown endpoint.
  router.get('/members//picks', () => {
    throw new FlywheelError('invalid', 'memberId: is empty');
  });
  router.get('/members/:memberId/picks', async (req, res) => {
    for (const [name, value] of API_HEADERS) res.setHeader(name, value); // on errors too
    const rows = req.query.rows === undefined ? undefined : parseParam(rowsParam, req.query.rows, 'rows');
    const { body } = await reader.getBody(req.params.memberId, rows);
    // The reader builds the JSON of a MemberPicksView as bytes. No ETag: hashing ~27 kB per
    // response of a no-store resource buys nothing.
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    res.end(body);
  });
  return router;
}
