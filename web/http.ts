import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { ActionError } from '../core/scheduler/actions.ts';

/** A request the API rejects, with the HTTP status and the reason (sent as `{ error }`). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message)).join('; ');
}

/** Parses one query parameter; a bad value is a 400 naming the parameter. */
export function parseParam<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, `${name}: ${describe(parsed.error)}`);
  return parsed.data;
}

/** Parses a query object or JSON body; a bad value is a 400 naming the fields. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, what = 'body'): T {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw new HttpError(400, `${what}: ${describe(parsed.error)}`);
  return parsed.data;
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

/** The error handler: HttpError and ActionError keep their status and reason; the rest is a 500 that says nothing inside. */
export function errorHandler(log: (error: unknown, req: Request) => void) {
  return (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error instanceof HttpError || error instanceof ActionError) {
      res.status(error.status).json({ error: error.message });
      return;
    }
    const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
    const type = (error as { type?: unknown }).type;
    // body-parser's errors: malformed JSON, too large, wrong charset.
    if (typeof status === 'number' && status >= 400 && status < 500 && typeof type === 'string') {
      res.status(status).json({ error: type === 'entity.parse.failed' ? 'body is not valid JSON' : (error as Error).message });
      return;
    }
    log(error, req);
    res.status(500).json({ error: 'internal error' });
  };
}
