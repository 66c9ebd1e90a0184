import express from 'express';
import { z } from 'zod';
import { getDag, listDags, listImportErrors } from '../../core/db/queries/dags.ts';
import { gridCells, listRunsPage, recentRunsByDag, runBelongsToDag } from '../../core/db/queries/dag-views.ts';
import type { DagRow } from '../../core/db/schema/dag.ts';
import { setPaused } from '../../core/scheduler/actions.ts';
import { DAG_RUN_STATES, RUN_TYPES } from '../../core/sdk/states.ts';
import { auditHook, requireRole, requireWrite } from '../auth/middleware.ts';
import { FlywheelError } from '../../core/errors.ts';
import { cursorParam, limitParam, parseInput, parseParam } from '../http.ts';
import type { ApiContext } from './context.ts';

const RECENT_RUNS = 14;

/** A DAG as the API shows it: its options, task structure and the next scheduled run. */
export function dagView(row: DagRow) {
  return {
    dagId: row.dagId,
    description: row.description,
    fileloc: row.fileloc,
    schedule: row.schedule,
    timezone: row.timezone,
    catchup: row.catchup,
    startDate: row.startDate,
    endDate: row.endDate,
    maxActiveRuns: row.maxActiveRuns,
    maxActiveTasks: row.maxActiveTasks,
    tags: row.tags,
    isPaused: row.isPaused,
    isActive: row.isActive,
    tasks: row.tasks,
    /** The next scheduled run (none when paused or unscheduled): its logical date, and when it will be created. */
    nextRun:
      row.schedule && row.nextDagrun && !row.isPaused
        ? { logicalDate: row.nextDagrun, createAfter: row.nextDagrunCreateAfter }
        : null,
    lastParsedAt: row.lastParsedAt,
  };
}

export async function requireDagRow(context: ApiContext, dagId: string): Promise<DagRow> {
  const dag = await getDag(context.db, dagId);
  if (!dag) throw new FlywheelError('not_found', `no DAG "${dagId}"`);
  return dag;
}

export const runsQuery = z.object({
  limit: limitParam(25, 500),
  cursor: cursorParam,
  state: z.enum(DAG_RUN_STATES).optional(),
  runType: z.enum(RUN_TYPES).optional(),
});

export async function runsPage(context: ApiContext, dagId: string, query: unknown) {
  const q = parseInput(runsQuery, query, 'query');
  if (q.cursor !== undefined && !(await runBelongsToDag(context.db, dagId, q.cursor))) throw new FlywheelError('invalid', 'cursor: not a run of this DAG');
  const runs = await listRunsPage(context.db, dagId, {
    limit: q.limit,
    ...(q.cursor !== undefined ? { before: q.cursor } : {}),
    ...(q.state ? { state: q.state } : {}),
    ...(q.runType ? { runType: q.runType } : {}),
  });
  const last = runs.at(-1);
  return { runs, nextCursor: runs.length === q.limit && last ? String(last.id) : null };
}

/** `/dags`, `/dags/:dagId` (+ PATCH to pause), `/dags/:dagId/grid`. */
export function dagsRouter(context: ApiContext): express.Router {
  const router = express.Router();
  const { db } = context;

  router.get('/dags', requireRole('viewer'), async (req, res) => {
    const { includeInactive } = parseInput(z.object({ includeInactive: z.enum(['true', 'false']).optional() }), req.query, 'query');
    const [rows, recent, importErrors] = await Promise.all([
      listDags(db, { includeInactive: includeInactive === 'true' }),
      recentRunsByDag(db, RECENT_RUNS),
      listImportErrors(db),
    ]);
    res.json({
      dags: rows.map((row) => ({ ...dagView(row), recentRuns: recent.get(row.dagId)?.recent ?? [], activeRuns: recent.get(row.dagId)?.active ?? 0 })),
      importErrors,
    });
  });

  router.get('/dags/:dagId', requireRole('viewer'), async (req, res) => {
    res.json(dagView(await requireDagRow(context, req.params.dagId as string)));
  });

  router.patch('/dags/:dagId', requireWrite('operator'), async (req, res) => {
    const dagId = req.params.dagId as string;
    const body = parseInput(z.object({ isPaused: z.boolean() }).strict(), req.body);
    const result = await setPaused(context.actions, dagId, body.isPaused, { audit: auditHook(req, body.isPaused ? 'dag.pause' : 'dag.unpause', { dagId }) });
    res.json(result);
  });

  /** The grid: a page of runs (newest first) and their task instances, with the DAG's task order. */
  router.get('/dags/:dagId/grid', requireRole('viewer'), async (req, res) => {
    const dagId = req.params.dagId as string;
    const dag = await requireDagRow(context, dagId);
    const page = await runsPage(context, dagId, { limit: '25', ...(req.query as object) });
    const cells = await gridCells(db, page.runs.map((run) => run.id));
    res.json({ dag: dagView(dag), ...page, taskInstances: cells });
  });

  return router;
}

export { parseParam };
