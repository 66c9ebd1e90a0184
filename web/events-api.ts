import express from 'express';
import type { Database } from '../core/db/client.ts';
import { ingestEvents, parseEventBatch, ExperimentList } from '../daily-picks/feedback/events.ts';
import { checkRequestInput, requireJsonBody } from './http.ts';
import { API_HEADERS } from './picks-api.ts';

export interface EventsApiOptions {
  db: Database;
  /** Now, for the retention and future checks (a simulation sends simulated days). @defaultValue () => new Date() */
  clock?: () => Date;
  /** Events older than this many days are refused (`FLYWHEEL_FEEDBACK_RETENTION_DAYS`). @defaultValue 90 */
  retentionDays?: number;
  /**
   * Largest request body. 10,000 events of a few hundred bytes each fit with room to spare.
   * @defaultValue '8mb'
   */
  bodyLimit?: string;
}

/**
 * Client events, for product clients that render picks: `POST /events` with
 * `{ "events": [{ eventId, type, memberId, classId, row, position, occurredAt, … }] }` →
 * `{ accepted, duplicates }`. Public like the picks API (mount it above the auth middleware);
 * the work is in daily-picks/feedback/events.ts.
 */
export function eventsRouter(options: EventsApiOptions): express.Router {
  const experiments = new ExperimentList(options.db);
  const router = express.Router();
  router.post(
    '/events',
    (_req, res, next) => {
      for (const [name, value] of API_HEADERS) res.setHeader(name, value); // on errors too
      next();
    },
    requireJsonBody(),
    express.json({ limit: options.bodyLimit ?? '8mb', strict: true }),
    checkRequestInput(),
    async (req, res) => {
      const events = parseEventBatch(req.body);
      const result = await ingestEvents(options.db, events, {
        experiments,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.retentionDays !== undefined ? { retentionDays: options.retentionDays } : {}),
      });
      res.status(200).json(result);
    },
  );
  return router;
}
