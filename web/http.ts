import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { FlywheelError } from '../core/errors.ts';
import { jsonInputProblem } from '../core/json-input.ts';

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message)).join('; ');
}

/** Parses one query parameter; a bad value is `invalid` (400), naming the parameter. */
export function parseParam<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new FlywheelError('invalid', `${name}: ${describe(parsed.error)}`);
  return parsed.data;
}

/** Parses a query object or JSON body; a bad value is `invalid` (400), naming the fields. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, what = 'body'): T {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw new FlywheelError('invalid', `${what}: ${describe(parsed.error)}`);
  return parsed.data;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Write requests whose body is not JSON are a 415 (express.json leaves such a body unread, and
 * the write would go ahead as if it had none, losing what was sent). A write without a body
 * (no Content-Length or Content-Length: 0, and no Transfer-Encoding) needs no Content-Type.
 */
export function requireJsonBody() {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!WRITE_METHODS.has(req.method)) {
      next();
      return;
    }
    const length = req.headers['content-length'];
    const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    if (hasBody && !req.is('application/json')) {
      const type = req.headers['content-type'];
      next(new FlywheelError('unsupported_media_type', `the body must be JSON (Content-Type: application/json)${type ? `, not ${type.split(';')[0]!.trim()}` : ': the request has no Content-Type'}`));
      return;
    }
    next();
  };
}

/**
 * Refuses a request whose query or JSON body holds a NUL character (PostgreSQL cannot store it:
 * the query that took it would fail, a 500) or a body nested deeper than MAX_JSON_DEPTH (the
 * recursive validation would overflow the stack, a 500): a 400 naming the parameter or field
 * (`query.state: …`, `body.conf.title: …`) or the limit. Mount it first in the app (the query)
 * and after each JSON body parser (the body), before any handler. Route parameters are matched
 * later, by the routes: `checkRouteParams` checks them.
 */
export function checkRequestInput() {
  return (req: Request, _res: Response, next: NextFunction): void => {
    // A NUL reaches the query only as `%00` (Node's parser refuses a raw one): most requests
    // skip parsing the query here (express parses it again on each read of `req.query`).
    const problem = (req.url.includes('%00') ? jsonInputProblem(req.query, 'query') : null) ?? (req.body === undefined ? null : jsonInputProblem(req.body, 'body'));
    if (problem) throw new FlywheelError('invalid', problem);
    next();
  };
}

/**
 * Refuses route parameters holding a NUL character (`%00` in the path), naming the parameter:
 * called by the guards every parameterised API route starts with (`requireRole`, `requireWrite`),
 * the first code that runs once express has matched the route's parameters.
 */
export function checkRouteParams(req: Request): void {
  for (const [name, value] of Object.entries(req.params as Record<string, unknown>)) {
    const problem = jsonInputProblem(value, name);
    if (problem) throw new FlywheelError('invalid', problem);
  }
}

/** `?limit=` for lists. */
export const limitParam = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);
/** An opaque keyset cursor (the id of the last item of the previous page). */
export const cursorParam = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'not a cursor from a previous page')
  .transform(Number)
  .optional();

/** JSON object (e.g. a run's conf). */
export const jsonObject = z.record(z.string(), z.json());

/** Reads a 4xx status that a library put on its error (`status` or `statusCode`), else null. */
function clientErrorStatus(error: unknown): number | null {
  if (typeof error !== 'object' || error === null) return null;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const value = status ?? statusCode;
  return typeof value === 'number' && Number.isInteger(value) && value >= 400 && value < 500 ? value : null;
}

/** The reason sent for a library's 4xx error. */
function clientErrorReason(error: unknown): string {
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.parse.failed') return 'body is not valid JSON';
  // express's router: a `%` escape in a path parameter that does not decode.
  if (error instanceof URIError) return 'malformed URL escape in the path';
  const message = error instanceof Error ? error.message : '';
  return message || 'bad request';
}

/**
 * The error handler: a FlywheelError is answered with its kind's status (`HTTP_STATUS` in
 * core/errors.ts, the one place statuses are decided) and its `publicMessage` as the reason. Any error a
 * library marked with a 4xx `status`/`statusCode` (body-parser's malformed JSON, too large,
 * wrong charset; express's undecodable path escape) keeps that status, and goes to
 * `logClientError` (for a debug line) rather than `log`. The rest is a 500 that says nothing
 * inside, and is `log`ged.
 */
export function errorHandler(log: (error: unknown, req: Request) => void, logClientError?: (error: unknown, req: Request) => void) {
  return (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error instanceof FlywheelError) {
      // The public message: a caller is not shown what is only the operator's (server paths).
      res.status(error.status).json({ error: error.publicMessage });
      return;
    }
    const status = clientErrorStatus(error);
    if (status !== null) {
      logClientError?.(error, req);
      res.status(status).json({ error: clientErrorReason(error) });
      return;
    }
    log(error, req);
    res.status(500).json({ error: 'internal error' });
  };
}
