import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Database } from '../core/db/client.ts';
import { getDagRun, listDagRuns } from '../core/db/queries/dag-runs.ts';
import { getDag, listDags, listImportErrors } from '../core/db/queries/dags.ts';
import { listTaskInstances } from '../core/db/queries/task-instances.ts';
import type { Logger } from '../core/logger.ts';

export interface WebAppOptions {
  db: Database;
  logger: Logger;
}

/** A request the API rejects, with the HTTP status and the reason. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const limitSchema = z.coerce.number().int().min(1).max(1000).default(25);

function parseQuery<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, `${name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}

/** The read-only REST API under /api/v1 (DAGs, runs, task instances, import errors) and a health check. */
export function createWebApp(options: WebAppOptions): express.Express {
  const { db } = options;
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb' }));
  const api = express.Router();

  api.get('/health', async (_req, res) => {
    await db.execute('select 1');
    res.json({ status: 'ok' });
  });
  api.get('/dags', async (_req, res) => {
    res.json({ dags: await listDags(db), importErrors: await listImportErrors(db) });
  });
  api.get('/dags/:dagId', async (req, res) => {
    const dag = await getDag(db, req.params.dagId);
    if (!dag) throw new HttpError(404, `no DAG "${req.params.dagId}"`);
    res.json(dag);
  });
  api.get('/dags/:dagId/runs', async (req, res) => {
    const limit = parseQuery(limitSchema, req.query.limit, 'limit');
    res.json({ runs: await listDagRuns(db, req.params.dagId, { limit }) });
  });
  api.get('/dags/:dagId/runs/:runId/taskInstances', async (req, res) => {
    const run = await getDagRun(db, req.params.dagId, req.params.runId);
    if (!run) throw new HttpError(404, `DAG "${req.params.dagId}" has no run "${req.params.runId}"`);
    res.json({ run, taskInstances: await listTaskInstances(db, run.id) });
  });
  app.use('/api/v1', api);
  app.use('/api', (_req, _res, next) => next(new HttpError(404, 'no such endpoint')));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof HttpError) {
      res.status(error.status).json({ error: error.message });
      return;
    }
    options.logger.error({ err: error }, 'request failed');
    res.status(500).json({ error: 'internal error' });
  });
  return app;
}

/** Starts the web server; resolves once it listens. */
export function listen(app: express.Express, port: number, host = '0.0.0.0'): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(server)));
  });
}
