import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import { csrfSync } from 'csrf-sync';
import type pg from 'pg';
import type { Database, Queryable } from '../../core/db/client.ts';
import { insertAuditEntry, type AuditHook } from '../../core/db/queries/audit-log.ts';
import { findUserByTokenHash, getUserById, publicUser, touchApiToken, type PublicUser } from '../../core/db/queries/users.ts';
import type { Role } from '../../core/db/schema/user.ts';
import { FlywheelError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { JsonObject } from '../../core/sdk/json.ts';
import { checkRouteParams } from '../http.ts';
import { hashApiToken } from './tokens.ts';

declare module 'express-session' {
  interface SessionData {
    userId?: number;
  }
}

/** Who made a request, and how they proved it. */
export interface RequestAuth {
  user: PublicUser;
  method: 'session' | 'token';
}

declare module 'express-serve-static-core' {
  interface Request {
    auth?: RequestAuth;
  }
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export function hasRole(user: Pick<PublicUser, 'role'>, role: Role): boolean {
  return RANK[user.role] >= RANK[role];
}

export const SESSION_COOKIE = 'flywheel.sid';
export const SESSION_MAX_AGE_MS = 12 * 60 * 60 * 1000;

/** express-session on connect-pg-simple's `session` table (created by migration 0004). */
export function sessionMiddleware(options: { pool: pg.Pool; secret: string; logger: Logger }): RequestHandler {
  const PgStore = connectPgSimple(session);
  const store = new PgStore({
    pool: options.pool,
    tableName: 'session',
    createTableIfMissing: false,
    pruneSessionInterval: 15 * 60,
    errorLog: (...args: unknown[]) => options.logger.warn({ detail: args.map(String).join(' ') }, 'session store error'),
  });
  // `rolling` touches the session on every response: an UPDATE per request, and the UI polls.
  // Touch a session in the database at most once a minute (its 12-hour expiry barely moves).
  const touch = store.touch.bind(store);
  const touched = new Map<string, number>();
  store.touch = (sid: string, sess: session.SessionData, callback?: (err?: unknown) => void) => {
    const now = Date.now();
    if (now - (touched.get(sid) ?? 0) < 60_000) {
      callback?.();
      return;
    }
    if (touched.size > 50_000) touched.clear();
    touched.set(sid, now);
    touch(sid, sess, callback);
  };
  return session({
    name: SESSION_COOKIE,
    secret: options.secret,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    // Secure when the request came over HTTPS (behind a proxy, set express's `trust proxy`).
    cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: SESSION_MAX_AGE_MS },
  });
}

export const csrf = csrfSync({
  getTokenFromRequest: (req) => {
    const header = req.headers['x-csrf-token'];
    return typeof header === 'string' ? header : undefined;
  },
});

/**
 * Works out who is calling: a Bearer API token, else the browser session. Sets `req.auth` or
 * leaves it unset (anonymous). A malformed or unknown token is a 401 at once, so a script never
 * silently runs anonymously.
 */
export function authenticate(db: Database): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw new FlywheelError('unauthorized', 'Authorization header must be "Bearer <token>"');
      const found = await findUserByTokenHash(db, hashApiToken(match[1]!));
      if (!found) throw new FlywheelError('unauthorized', 'invalid, revoked or expired API token');
      await touchApiToken(db, found.tokenId);
      req.auth = { user: publicUser(found.user), method: 'token' };
      next();
      return;
    }
    const userId = req.session?.userId;
    if (userId !== undefined) {
      const user = await getUserById(db, userId);
      if (user?.isActive) req.auth = { user: publicUser(user), method: 'session' };
      // A deleted or disabled user's session ends here.
      else await new Promise<void>((resolve) => req.session.destroy(() => resolve()));
    }
    next();
  };
}

/**
 * Reads need at least `role`: anonymous → 401, too weak → 403. Every authenticated route starts
 * with this guard (or requireWrite, which runs it), the first code to see the route's matched
 * parameters: they are checked here (`checkRouteParams`, a 400 naming one PostgreSQL cannot take).
 */
export function requireRole(role: Role): RequestHandler {
  return (req, _res, next) => {
    if (!req.auth) throw new FlywheelError('unauthorized', 'authentication required: log in or send "Authorization: Bearer <token>"');
    if (!hasRole(req.auth.user, role)) throw new FlywheelError('forbidden', `this needs the ${role} role; ${req.auth.user.username} is ${req.auth.user.role}`);
    checkRouteParams(req);
    next();
  };
}

/**
 * Writes need `role`, and a session-authenticated write also needs the session's CSRF token in
 * `x-csrf-token` (a token-authenticated one carries no ambient credentials and needs none).
 */
export function requireWrite(role: Role): RequestHandler {
  const check = requireRole(role);
  return (req, res, next) => {
    check(req, res, (error?: unknown) => {
      if (error) {
        next(error);
        return;
      }
      if (req.auth!.method === 'session' && !csrf.isRequestValid(req)) {
        next(new FlywheelError('forbidden', 'missing or invalid CSRF token (send the x-csrf-token header from GET /api/v1/session)'));
        return;
      }
      next();
    });
  };
}

/** What an audit entry says about its target. */
export interface AuditTarget {
  dagId?: string;
  runId?: string;
  taskId?: string;
  target?: string;
  details?: JsonObject;
}

function actorOf(req: Request) {
  const auth = req.auth;
  if (!auth) throw new Error('audit without an authenticated request');
  return { actor: auth.user.username, userId: auth.user.id, auth: auth.method, ip: req.ip ?? null };
}

/** An audit hook for an action: writes the entry inside the action's transaction. */
export function auditHook(req: Request, action: string, target: AuditTarget): AuditHook {
  return async (tx: Queryable, outcome: JsonObject) => {
    const runId = target.runId ?? (typeof outcome.runId === 'string' ? outcome.runId : null);
    await insertAuditEntry(tx, {
      ...actorOf(req),
      action,
      dagId: target.dagId ?? null,
      runId,
      taskId: target.taskId ?? null,
      target: target.target ?? ([target.dagId, runId, target.taskId].filter(Boolean).join(' / ') || null),
      details: { ...target.details, ...outcome },
    });
  };
}

/** Writes an audit entry now (for writes that are not scheduler actions). */
export function audit(db: Queryable, req: Request, action: string, target: AuditTarget): Promise<void> {
  return auditHook(req, action, target)(db, {});
}

/**
 * Counts failed logins per key (`user:<name>`, `ip:<address>`) in a sliding window; a key past
 * its limit gets 429 until its failures age out. Per process (several web servers each count).
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  constructor(
    /** Failures allowed per key kind (the part before the first `:`). */
    private readonly limits: Record<string, number> = { user: 10, ip: 100 },
    private readonly windowMs = 15 * 60 * 1000,
  ) {}

  private recent(key: string, now: number): number[] {
    const kept = (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (kept.length === 0) this.failures.delete(key);
    else this.failures.set(key, kept);
    return kept;
  }

  check(keys: string[]): void {
    const now = Date.now();
    const over = keys.some((key) => this.recent(key, now).length >= (this.limits[key.split(':')[0]!] ?? 10));
    if (over) throw new FlywheelError('too_many_requests', 'too many failed logins; wait a few minutes and try again');
  }

  fail(keys: string[]): void {
    const now = Date.now();
    for (const key of keys) this.failures.set(key, [...this.recent(key, now), now]);
    if (this.failures.size > 10_000) this.failures.clear(); // bounded memory under a spray
  }

  succeed(keys: string[]): void {
    // Only the user's count: one good login from an address does not excuse its other failures.
    for (const key of keys) if (key.startsWith('user:')) this.failures.delete(key);
  }
}
