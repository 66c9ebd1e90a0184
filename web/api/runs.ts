import express from 'express';
import { z } from 'zod';
import { getDagRun } from '../../core/db/queries/dag-runs.ts';
import { listTaskInstances } from '../../core/db/queries/task-instances.ts';
import type { DagRunRow } from '../../core/db/schema/dag-run.ts';
import { clearTaskScope, markTaskScope, triggerDagRun } from '../../core/scheduler/actions.ts';
import type { JsonObject } from '../../core/sdk/json.ts';
import { auditHook, requireRole, requireWrite } from '../auth/middleware.ts';
import { FlywheelError } from '../../core/errors.ts';
import { jsonObject, parseInput } from '../http.ts';
import { actionGuard, dryRunOf, guardFields } from './action-input.ts';
import type { ApiContext } from './context.ts';
import { requireDagRow, runsPage } from './dags.ts';

/** A run without its internal queue prefix. */
export function runView(run: DagRunRow) {
  const { queuePrefix: _internal, ...view } = run;
  return view;
}

export async function requireRun(context: ApiContext, dagId: string, runId: string): Promise<DagRunRow> {
  const run = await getDagRun(context.db, dagId, runId);
  if (!run) throw new FlywheelError('not_found', `DAG "${dagId}" has no run "${runId}"`);
  return run;
}

const triggerBody = z
  .object({
    conf: jsonObject.optional(),
    logicalDate: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

const clearRunBody = z.object({ onlyFailed: z.literal(true).optional(), dryRun: guardFields.dryRun, expected: guardFields.expected }).strict();
const markRunBody = z.object({ state: z.enum(['success', 'failed']), dryRun: guardFields.dryRun, expected: guardFields.expected }).strict();

/** `/dags/:dagId/runs` (list, trigger), one run, clearing a run's failed tasks. */
export function runsRouter(context: ApiContext): express.Router {
  const router = express.Router();

  router.get('/dags/:dagId/runs', requireRole('viewer'), async (req, res) => {
    const dagId = req.params.dagId as string;
    await requireDagRow(context, dagId);
    const page = await runsPage(context, dagId, req.query);
    res.json(page);
  });

  router.post('/dags/:dagId/runs', requireWrite('operator'), async (req, res) => {
    const dagId = req.params.dagId as string;
    const body = parseInput(triggerBody, req.body);
    const conf = (body.conf ?? {}) as JsonObject;
    const result = await triggerDagRun(context.actions, dagId, {
      conf,
      ...(body.logicalDate ? { logicalDate: new Date(body.logicalDate) } : {}),
      triggeredBy: req.auth!.user.username,
      audit: auditHook(req, 'dag.trigger', { dagId, details: { conf } }),
    });
    const run = await requireRun(context, dagId, result.runId);
    res.status(201).json(runView(run));
  });

  router.get('/dags/:dagId/runs/:runId', requireRole('viewer'), async (req, res) => {
    const run = await requireRun(context, req.params.dagId as string, req.params.runId as string);
    res.json({ ...runView(run), taskInstances: await listTaskInstances(context.db, run.id) });
  });

  /**
   * Clears the run's failed and upstream_failed tasks so they run again (Airflow's "clear only
   * failed"): `{ onlyFailed?: true, dryRun?, expected? }` (or `?dry_run=true`).
   */
  router.post('/dags/:dagId/runs/:runId/clear', requireWrite('operator'), async (req, res) => {
    const dagId = req.params.dagId as string;
    const runId = req.params.runId as string;
    const body = parseInput(clearRunBody, req.body);
    await requireRun(context, dagId, runId);
    const outcome = await clearTaskScope(context.actions, dagId, runId, null, {
      onlyFailed: true,
      ...actionGuard(body),
      dryRun: dryRunOf(req, body),
      audit: auditHook(req, 'run.clear_failed', { dagId, runId }),
    });
    res.json({ dagId, runId, dryRun: outcome.dryRun, cleared: outcome.cleared, taskInstances: outcome.taskInstances });
  });

  /**
   * Marks the whole run: `{ state: "success" | "failed", dryRun?, expected? }` (or `?dry_run=true`).
   * Success marks every task instance not `success` or `skipped`; failed every unfinished one.
   */
  router.patch('/dags/:dagId/runs/:runId', requireWrite('operator'), async (req, res) => {
    const dagId = req.params.dagId as string;
    const runId = req.params.runId as string;
    const body = parseInput(markRunBody, req.body);
    await requireRun(context, dagId, runId);
    const outcome = await markTaskScope(context.actions, dagId, runId, null, body.state, {
      ...actionGuard(body),
      dryRun: dryRunOf(req, body),
      by: req.auth!.user.username,
      audit: auditHook(req, `run.mark_${body.state}`, { dagId, runId }),
    });
    res.json({ dagId, runId, dryRun: outcome.dryRun, state: outcome.state, runState: outcome.runState, taskInstances: outcome.taskInstances });
  });

  return router;
}
