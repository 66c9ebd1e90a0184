import express from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Database } from '../core/db/client.ts';
import { FlywheelError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { ImpressionLog } from '../daily-picks/feedback/impression-log.ts';
import { PicksReader } from '../daily-picks/picks-reader.ts';
import { ROW_NAMES } from '../daily-picks/rows/row-specs.ts';
import { parseParam } from './http.ts';

export interface PicksApiOptions {
  db: Database;
  redis: Redis;
  /** Redis key prefix of the serving cache (the installation's queue prefix). */
  cachePrefix: string;
  /**
   * Log the named rows served as impressions, and first exposures to experiments
   * (`FLYWHEEL_IMPRESSION_LOGGING`).
   * @defaultValue true
   */
  impressionLogging?: boolean;
  /** The time impressions are served at (a simulation serves simulated days). @defaultValue () => new Date() */
  clock?: () => Date;
  /** Where failed impression writes and class metadata reloads are reported. @defaultValue none */
  logger?: Logger;
  /** How long the reader reuses class metadata (PicksReaderOptions.classesRefreshMs). @defaultValue 30000 */
  classesRefreshMs?: number;
}

/** The picks router, with the impression log behind it (null when logging is off): flush or close it on shutdown. */
export type PicksRouter = express.Router & { impressionLog: ImpressionLog | null };

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
export const API_HEADERS: readonly [string, string][] = [
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
export function picksRouter(options: PicksApiOptions): PicksRouter {
  const reader = new PicksReader({
    db: options.db,
    redis: options.redis,
    cachePrefix: options.cachePrefix,
    ...(options.classesRefreshMs !== undefined ? { classesRefreshMs: options.classesRefreshMs } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const impressionLog =
    options.impressionLogging === false
      ? null
      : new ImpressionLog({ db: options.db, ...(options.clock ? { clock: options.clock } : {}), ...(options.logger ? { logger: options.logger } : {}) });
  const router = express.Router();
  // `/members//picks`: an empty id, not an unknown endpoint.
  router.get('/members//picks', () => {
    throw new FlywheelError('invalid', 'memberId: is empty');
  });
  router.get('/members/:memberId/picks', async (req, res) => {
    for (const [name, value] of API_HEADERS) res.setHeader(name, value); // on errors too
    const rows = req.query.rows === undefined ? undefined : parseParam(rowsParam, req.query.rows, 'rows');
    const served = await reader.getBody(req.params.memberId, rows);
    const { body } = served;
    // The reader builds the JSON of a MemberPicksView as bytes. No ETag: hashing ~27 kB per
    // response of a no-store resource buys nothing.
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    res.end(body);
    // After the response: the log only remembers it (parsed and written later, off this path).
    impressionLog?.served(req.params.memberId, served.publicationId, served.picks, rows);
  });
  return Object.assign(router, { impressionLog });
}
