import express from 'express';
import { z } from 'zod';
import { EXPERIMENT_KEY_FORMAT } from '../../daily-picks/experiments/experiment.ts';
import { experimentReport } from '../../daily-picks/experiments/report.ts';
import { createExperiment, listExperiments, parseVariants, requireExperiment, stopExperiment } from '../../daily-picks/experiments/store.ts';
import { FlywheelError } from '../../core/errors.ts';
import { auditHook, requireRole, requireWrite } from '../auth/middleware.ts';
import { parseInput, parseParam } from '../http.ts';
import type { ApiContext } from './context.ts';

const keyParam = z.string().regex(EXPERIMENT_KEY_FORMAT, 'not an experiment key');
const isoDate = z.string().max(64);

const createBody = z
  .object({
    key: z.string().max(200),
    /** `[{ key, weight }, …]` or the CLI's `heuristics:50,model:50`. */
    variants: z.union([z.string().max(2000), z.array(z.object({ key: z.string().max(200), weight: z.number() }).strict()).max(20)]),
    rows: z.array(z.string().max(64)).max(10).optional(),
    startAt: isoDate.optional(),
    endAt: isoDate.nullable().optional(),
    description: z.string().max(2000).nullable().optional(),
  })
  .strict();

const reportQuery = z.object({ at: isoDate.optional() }).strict();
const stopBody = z.object({}).strict();

function parseDate(value: string, name: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new FlywheelError('invalid', `${name}: "${value}" is not an ISO 8601 date`);
  return date;
}

/**
 * A/B experiments: `GET /experiments`, `GET /experiments/:key` (the report), `POST /experiments`
 * and `POST /experiments/:key/stop` (operator; audited in the write's transaction).
 */
export function experimentsRouter(context: ApiContext): express.Router {
  const router = express.Router();

  router.get('/experiments', requireRole('viewer'), async (_req, res) => {
    res.json({ experiments: await listExperiments(context.db) });
  });

  router.get('/experiments/:key', requireRole('viewer'), async (req, res) => {
    const key = parseParam(keyParam, req.params.key, 'key');
    const q = parseInput(reportQuery, req.query, 'query');
    const now = q.at ? parseDate(q.at, 'at') : new Date();
    const experiment = await requireExperiment(context.db, key, now);
    const report = await experimentReport(context.db, key, { now });
    // The report (the CLI's `show --json`) plus who made and stopped it and why it exists.
    res.json({ ...report, description: experiment.description, createdBy: experiment.createdBy, createdAt: experiment.createdAt, stoppedBy: experiment.stoppedBy });
  });

  router.post('/experiments', requireWrite('operator'), async (req, res) => {
    const body = parseInput(createBody, req.body);
    const variants = typeof body.variants === 'string' ? parseVariants(body.variants) : body.variants;
    const created = await createExperiment(
      context.db,
      {
        key: body.key,
        variants,
        ...(body.rows ? { rows: body.rows } : {}),
        ...(body.startAt ? { startAt: parseDate(body.startAt, 'startAt') } : {}),
        ...(body.endAt ? { endAt: parseDate(body.endAt, 'endAt') } : {}),
        description: body.description ?? null,
      },
      req.auth!.user.username,
      { audit: auditHook(req, 'experiment.create', { target: body.key }) },
    );
    res.status(201).json(created);
  });

  router.post('/experiments/:key/stop', requireWrite('operator'), async (req, res) => {
    const key = parseParam(keyParam, req.params.key, 'key');
    parseInput(stopBody, req.body);
    res.json(await stopExperiment(context.db, key, req.auth!.user.username, new Date(), auditHook(req, 'experiment.stop', { target: key })));
  });

  return router;
}
