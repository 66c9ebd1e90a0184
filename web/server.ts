import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import express from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import pg from 'pg';
import type { Database } from '../core/db/client.ts';
import type { QueueExecutor } from '../core/executor/executor.ts';
import type { DagBag } from '../core/loader/dag-bag.ts';
import type { Logger } from '../core/logger.ts';
import type { Runtime } from '../core/runtime.ts';
import { auditRouter } from './api/audit.ts';
import type { ApiContext } from './api/context.ts';
import { dagsRouter } from './api/dags.ts';
import { modelsRouter } from './api/models.ts';
import { experimentsRouter } from './api/experiments.ts';
import { poolsRouter } from './api/pools.ts';
import { runsRouter } from './api/runs.ts';
import { sessionRouter } from './api/session.ts';
import { tasksRouter } from './api/tasks.ts';
import { authenticate, sessionMiddleware } from './auth/middleware.ts';
import type { ImpressionLog } from '../daily-picks/feedback/impression-log.ts';
import { eventsRouter } from './events-api.ts';
import { picksRouter } from './picks-api.ts';
import { FlywheelError } from '../core/errors.ts';
import { checkRequestInput, errorHandler, requireJsonBody } from './http.ts';

export interface WebAppOptions {
  db: Database;
  logger: Logger;
  /** Redis (ioredis), for the picks serving cache. */
  redis: Redis;
  /** Key prefix of the picks serving cache in Redis (the installation's queue prefix). @defaultValue 'flywheel' */
  cachePrefix?: string;
  /** DAG definitions, for operator actions (trigger, clear, mark). */
  dags: DagBag;
  /** The queues operator actions enqueue tries on. */
  executor: QueueExecutor;
  /**
   * Signs session cookies (`FLYWHEEL_SECRET_KEY`). Without one a random key is made and a
   * warning logged: sessions then end when the process restarts and are not shared between
   * web servers.
   */
  secretKey?: string | null;
  /** Pool for the session store; @defaultValue the pool behind `db` */
  pool?: pg.Pool;
  /**
   * express's `trust proxy` (`FLYWHEEL_TRUST_PROXY`): behind a TLS-terminating proxy, so
   * cookies are marked Secure and login throttling sees client addresses, not the proxy's.
   */
  trustProxy?: string | null;
  /**
   * Log the rows the picks API serves as impressions (`FLYWHEEL_IMPRESSION_LOGGING`).
   * @defaultValue true
   */
  impressionLogging?: boolean;
  /** Days of feedback kept: older client events are refused (`FLYWHEEL_FEEDBACK_RETENTION_DAYS`). @defaultValue 90 */
  feedbackRetentionDays?: number;
  /**
   * The picks API's and events API's clock: impressions are served at it, events checked against
   * it (`flywheel simulate` serves simulated days).
   * @defaultValue () => new Date()
   */
  clock?: () => Date;
  /** How long the picks API reuses class metadata before reloading it in the background. @defaultValue 30000 */
  picksClassesRefreshMs?: number;
}

/** `true` / `false`, a hop count, or addresses and names (`loopback`, `10.0.0.0/8`) as express reads them. */
export function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

export const UI_FOLDER = fileURLToPath(new URL('./ui', import.meta.url));

/** The web options of a process's runtime (`flywheel web`, `flywheel standalone`). */
export function webOptionsFromRuntime(runtime: Runtime): WebAppOptions {
  return {
    db: runtime.db,
    logger: runtime.logger,
    redis: runtime.redis,
    cachePrefix: runtime.config.queuePrefix,
    dags: runtime.dags,
    executor: runtime.executor,
    secretKey: runtime.config.secretKey,
    pool: runtime.database.pool,
    trustProxy: runtime.config.trustProxy,
    impressionLogging: runtime.config.impressionLogging,
    feedbackRetentionDays: runtime.config.feedbackRetentionDays,
  };
}

/** The impression log of each app made by createWebApp (none when logging is off). */
const impressionLogs = new WeakMap<express.Express, ImpressionLog>();

/** Stops logging impressions and writes what is buffered; call after the server stopped, before closing the database. */
export async function closeWebApp(app: express.Express): Promise<void> {
  await impressionLogs.get(app)?.close();
}

function poolOf(options: WebAppOptions): pg.Pool {
  if (options.pool) return options.pool;
  const client = (options.db as Database & { $client?: unknown }).$client;
  if (client instanceof pg.Pool) return client;
  throw new Error('createWebApp: pass `pool` (the database handle is not backed by a pg.Pool)');
}

/**
 * The web server: the REST API under /api/v1 (auth, DAGs, runs, task instances, tries, logs,
 * XCom, pools, audit log, operator actions) and the operator UI (static files under web/ui).
 */
export function createWebApp(options: WebAppOptions): express.Express {
  const { db, logger } = options;
  let secret = options.secretKey ?? null;
  if (!secret) {
    secret = randomBytes(32).toString('base64url');
    logger.warn('FLYWHEEL_SECRET_KEY is not set: using a random session key (sessions end on restart and are not shared between web servers)');
  }
  const context: ApiContext = { db, logger, actions: { db, dags: options.dags, executor: options.executor } };

  const app = express();
  app.disable('x-powered-by');
  if (options.trustProxy) app.set('trust proxy', parseTrustProxy(options.trustProxy));
  // First: a query PostgreSQL cannot store (NUL) is a 400 naming the parameter, on every route.
  app.use(checkRequestInput());
  // The picks serving API (GET /api/v1/members/:memberId/picks), public for product services: first,
  // above helmet (it sets a JSON API's security headers itself), the static files (a file-system
  // stat per request) and the session and auth middleware.
  const picks = picksRouter({
    db,
    redis: options.redis,
    cachePrefix: options.cachePrefix ?? 'flywheel',
    impressionLogging: options.impressionLogging ?? true,
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.picksClassesRefreshMs !== undefined ? { classesRefreshMs: options.picksClassesRefreshMs } : {}),
  });
  app.use('/api/v1', picks);
  if (picks.impressionLog) impressionLogs.set(app, picks.impressionLog);
  // Client events (POST /api/v1/events), public for the same product clients, with their own JSON body limit.
  app.use(
    '/api/v1',
    eventsRouter({
      db,
      ...(options.feedbackRetentionDays !== undefined ? { retentionDays: options.feedbackRetentionDays } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    }),
  );
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          frameAncestors: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          // Plain-HTTP installs (an internal host name) must keep loading their own scripts.
          upgradeInsecureRequests: null,
        },
      },
    }),
  );
  // The UI's static files: served before sessions, so they cost no database round trip.
  app.use(express.static(UI_FOLDER, { index: 'index.html', maxAge: 0, etag: true }));
  app.use('/api', (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  const open = express.Router();
  // PostgreSQL down is a failure (500); Redis down only degrades (the picks API reads PostgreSQL).
  open.get('/health', async (_req, res) => {
    await db.execute('select 1');
    const redis = options.redis.status === 'ready' ? 'ok' : 'down';
    res.json({ status: redis === 'ok' ? 'ok' : 'degraded', database: 'ok', redis });
  });
  app.use('/api/v1', open);

  const api = express.Router();
  api.use(express.json({ limit: '1mb', strict: true }));
  // The body, before any route validates it (recursively) or takes it to SQL.
  api.use(checkRequestInput());
  api.use(requireJsonBody());
  api.use(sessionMiddleware({ pool: poolOf(options), secret, logger }));
  api.use(authenticate(db));
  api.use(sessionRouter({ db, logger }));
  api.use(dagsRouter(context));
  api.use(runsRouter(context));
  api.use(tasksRouter(context));
  api.use(poolsRouter(context));
  api.use(auditRouter(context));
  api.use(modelsRouter(context));
  api.use(experimentsRouter(context));
  app.use('/api/v1', api);

  app.use('/api', (_req, _res, next) => next(new FlywheelError('not_found', 'no such endpoint')));
  app.use(
    errorHandler((error, req) => {
      logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    }, (error, req) => {
      logger.debug({ err: error, method: req.method, path: req.path }, 'bad request');
    }),
  );
  return app;
}

/** Starts the web server; resolves once it listens. */
export function listen(app: express.Express, port: number, host = '0.0.0.0'): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(server)));
  });
}
