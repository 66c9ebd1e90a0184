import type { Request } from 'express';
import { z } from 'zod';
import type { ActionGuard } from '../../core/scheduler/actions.ts';
import { TASK_STATES } from '../../core/sdk/states.ts';
import { FlywheelError } from '../../core/errors.ts';

/** A task instance as the caller saw it in a dry run's list (`taskInstances`). */
const expectedInstance = z
  .object({
    taskId: z.string().min(1).max(250),
    tryNumber: z.number().int().min(0).max(100_000),
    state: z.enum(TASK_STATES).optional(),
  })
  .strip();

/**
 * The body fields every clear / mark accepts besides its scope: `dryRun` (list what would
 * change, change nothing) and the compare-and-set of a confirmed action (`expectedTryNumber`,
 * `expectedState` for the target task instance; `expected`, the list the caller confirmed).
 */
export const guardFields = {
  dryRun: z.boolean().optional(),
  expectedTryNumber: z.number().int().min(0).max(100_000).optional(),
  expectedState: z.enum(TASK_STATES).optional(),
  expected: z.array(expectedInstance).max(10_000).optional(),
};

/** `?dry_run=true` (or `1`) or `"dryRun": true` in the body; both given must agree. */
export function dryRunOf(req: Request, body: { dryRun?: boolean | undefined }): boolean {
  const raw = req.query.dry_run ?? req.query.dryRun;
  let fromQuery: boolean | undefined;
  if (raw !== undefined) {
    if (raw === 'true' || raw === '1') fromQuery = true;
    else if (raw === 'false' || raw === '0') fromQuery = false;
    else throw new FlywheelError('invalid', 'query.dry_run: expected true or false');
  }
  if (fromQuery !== undefined && body.dryRun !== undefined && fromQuery !== body.dryRun) throw new FlywheelError('invalid', 'dry_run: the query and the body disagree');
  return fromQuery ?? body.dryRun ?? false;
}

/** The compare-and-set part of a parsed body. */
export function actionGuard(body: { expectedTryNumber?: number | undefined; expectedState?: ActionGuard['expectedState']; expected?: ActionGuard['expected'] }): ActionGuard {
  return {
    ...(body.expectedTryNumber !== undefined ? { expectedTryNumber: body.expectedTryNumber } : {}),
    ...(body.expectedState !== undefined ? { expectedState: body.expectedState } : {}),
    ...(body.expected !== undefined ? { expected: body.expected } : {}),
  };
}
