import express from 'express';
import { z } from 'zod';
import { getTaskInstance, listTaskInstances, listTaskTries } from '../../core/db/queries/task-instances.ts';
import { readLogPage } from '../../core/db/queries/dag-views.ts';
import type { TaskInstanceRow } from '../../core/db/schema/task-instance.ts';
import type { DagRunRow } from '../../core/db/schema/dag-run.ts';
import { clearTaskScope, markTaskScope } from '../../core/scheduler/actions.ts';
import { auditHook, requireRole, requireWrite } from '../auth/middleware.ts';
import { FlywheelError } from '../../core/errors.ts';
import { limitParam, parseInput, parseParam } from '../http.ts';
import { actionGuard, dryRunOf, guardFields } from './action-input.ts';
import type { ApiContext } from './context.ts';
import { requireRun } from './runs.ts';

/** One try of a task instance, finished (from `task_try`) or current (queued / running). */
export interface TryView {
  tryNumber: number;
  state: string;
  startDate: Date | null;
  endDate: Date | null;
  durationMs: number | null;
  hostname: string | null;
  output: unknown;
  error: string | null;
  /** True for the try still in progress. */
  current: boolean;
}

async function requireTaskInstance(context: ApiContext, run: DagRunRow, taskId: string): Promise<TaskInstanceRow> {
  const ti = await getTaskInstance(context.db, run.id, taskId);
  if (!ti) throw new FlywheelError('not_found', `run "${run.runId}" has no task instance "${taskId}"`);
  return ti;
}

/** Every try, oldest first: the archived ones plus the one in progress, if any. */
export async function triesOf(context: ApiContext, run: DagRunRow, ti: TaskInstanceRow): Promise<TryView[]> {
  const archived = await listTaskTries(context.db, run.id, ti.taskId);
  const tries: TryView[] = archived.map((t) => ({
    tryNumber: t.tryNumber,
    state: t.state,
    startDate: t.startDate,
    endDate: t.endDate,
    durationMs: t.durationMs,
    hostname: t.hostname,
    output: t.output,
    error: t.error,
    current: false,
  }));
  if (ti.tryNumber >= 1 && !archived.some((t) => t.tryNumber === ti.tryNumber)) {
    tries.push({
      tryNumber: ti.tryNumber,
      state: ti.state,
      startDate: ti.startDate,
      endDate: ti.endDate,
      durationMs: ti.durationMs,
      hostname: ti.hostname,
      output: ti.output,
      error: ti.error,
      current: true,
    });
  }
  return tries;
}

const tryNumberParam = z.coerce.number().int().min(1).max(100_000);
const logsQuery = z.object({
  after: z.coerce.number().int().min(0).optional(),
  limit: limitParam(1000, 10_000),
});
const clearBody = z
  .object({
    downstream: z.boolean().default(false),
    upstream: z.boolean().default(false),
    onlyFailed: z.boolean().default(false),
    ...guardFields,
  })
  .strict();
const markBody = z
  .object({
    state: z.enum(['success', 'failed']),
    downstream: z.boolean().default(false),
    upstream: z.boolean().default(false),
    ...guardFields,
  })
  .strict();

/** Task instances of a run, one instance with its tries, a try's log, XCom; clear and mark. */
export function tasksRouter(context: ApiContext): express.Router {
  const router = express.Router();
  const base = '/dags/:dagId/runs/:runId/taskInstances';

  async function load(params: Record<string, string | string[] | undefined>) {
    const run = await requireRun(context, params.dagId as string, params.runId as string);
    const ti = params.taskId === undefined ? undefined : await requireTaskInstance(context, run, params.taskId as string);
    return { run, ti };
  }

  router.get(base, requireRole('viewer'), async (req, res) => {
    const { run } = await load(req.params);
    const { queuePrefix: _internal, ...runView } = run;
    res.json({ run: runView, taskInstances: await listTaskInstances(context.db, run.id) });
  });

  router.get(`${base}/:taskId`, requireRole('viewer'), async (req, res) => {
    const { run, ti } = await load(req.params);
    res.json({ ...ti!, tries: await triesOf(context, run, ti!) });
  });

  router.get(`${base}/:taskId/tries`, requireRole('viewer'), async (req, res) => {
    const { run, ti } = await load(req.params);
    res.json({ tries: await triesOf(context, run, ti!) });
  });

  router.get(`${base}/:taskId/tries/:tryNumber/logs`, requireRole('viewer'), async (req, res) => {
    const { run, ti } = await load(req.params);
    const tryNumber = parseParam(tryNumberParam, req.params.tryNumber, 'tryNumber');
    if (tryNumber > ti!.tryNumber) throw new FlywheelError('not_found', `task "${ti!.taskId}" has ${ti!.tryNumber === 0 ? 'no tries yet' : `tries 1–${ti!.tryNumber}`}, not ${tryNumber}`);
    const q = parseInput(logsQuery, req.query, 'query');
    const lines = await readLogPage(context.db, run.id, ti!.taskId, tryNumber, { limit: q.limit, ...(q.after !== undefined ? { after: q.after } : {}) });
    res.json({ tryNumber, lines, nextAfter: lines.at(-1)?.id ?? q.after ?? 0, more: lines.length === q.limit });
  });

  /** XCom: the task's return value (the current try's), and each finished try's. */
  router.get(`${base}/:taskId/xcom`, requireRole('viewer'), async (req, res) => {
    const { run, ti } = await load(req.params);
    const tries = await triesOf(context, run, ti!);
    res.json({
      key: 'return_value',
      taskId: ti!.taskId,
      tryNumber: ti!.tryNumber,
      value: ti!.output ?? null,
      byTry: tries.filter((t) => !t.current).map((t) => ({ tryNumber: t.tryNumber, state: t.state, value: t.output ?? null })),
    });
  });

  /**
   * Clear: `{ downstream?, upstream?, onlyFailed?, dryRun?, expectedTryNumber?, expectedState?, expected? }`
   * (or `?dry_run=true`). A dry run changes nothing and lists what the clear would change.
   */
  router.post(`${base}/:taskId/clear`, requireWrite('operator'), async (req, res) => {
    const { dagId, runId, taskId } = req.params as Record<string, string>;
    const body = parseInput(clearBody, req.body);
    const scope = { downstream: body.downstream, upstream: body.upstream, onlyFailed: body.onlyFailed };
    const outcome = await clearTaskScope(context.actions, dagId!, runId!, taskId!, {
      ...scope,
      ...actionGuard(body),
      dryRun: dryRunOf(req, body),
      audit: auditHook(req, 'task.clear', { dagId: dagId!, runId: runId!, taskId: taskId!, details: { ...scope } }),
    });
    res.json({ dagId, runId, dryRun: outcome.dryRun, cleared: outcome.cleared, taskInstances: outcome.taskInstances });
  });

  /**
   * Mark success / failed: `{ "state": "success" | "failed", downstream?, upstream?, dryRun?,
   * expectedTryNumber?, expectedState?, expected? }` (or `?dry_run=true`).
   */
  router.patch(`${base}/:taskId`, requireWrite('operator'), async (req, res) => {
    const { dagId, runId, taskId } = req.params as Record<string, string>;
    const body = parseInput(markBody, req.body);
    const scope = { downstream: body.downstream, upstream: body.upstream };
    const outcome = await markTaskScope(context.actions, dagId!, runId!, taskId!, body.state, {
      ...scope,
      ...actionGuard(body),
      dryRun: dryRunOf(req, body),
      by: req.auth!.user.username,
      audit: auditHook(req, `task.mark_${body.state}`, { dagId: dagId!, runId: runId!, taskId: taskId!, details: { ...scope } }),
    });
    res.json({
      dagId,
      runId,
      dryRun: outcome.dryRun,
      taskId,
      previousState: outcome.target!.previousState,
      state: outcome.state,
      runState: outcome.runState,
      taskInstances: outcome.taskInstances,
    });
  });

  return router;
}
