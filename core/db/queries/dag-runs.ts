import { and, desc, eq, lt, or, type SQL } from 'drizzle-orm';
import type { Queryable } from '../client.ts';
import { dagRuns, type DagRunRow } from '../schema/dag-run.ts';
import type { DagRunState } from '../../sdk/states.ts';

export interface ListRunsOptions {
  /** @defaultValue 25 */
  limit?: number;
  /** Keyset cursor: runs strictly older than this (logical date, id). */
  before?: { logicalDate: Date; id: number };
  state?: DagRunState;
}

/** Runs of a DAG, newest logical date first, by keyset pagination (fast at any depth). */
export async function listDagRuns(db: Queryable, dagId: string, options: ListRunsOptions = {}): Promise<DagRunRow[]> {
  const conditions: (SQL | undefined)[] = [eq(dagRuns.dagId, dagId)];
  if (options.state) conditions.push(eq(dagRuns.state, options.state));
  if (options.before) {
    conditions.push(
      or(
        lt(dagRuns.logicalDate, options.before.logicalDate),
        and(eq(dagRuns.logicalDate, options.before.logicalDate), lt(dagRuns.id, options.before.id)),
      ),
    );
  }
  return db
    .select()
    .from(dagRuns)
    .where(and(...conditions))
    .orderBy(desc(dagRuns.logicalDate), desc(dagRuns.id))
    .limit(options.limit ?? 25);
}

export async function getDagRun(db: Queryable, dagId: string, runId: string): Promise<DagRunRow | undefined> {
  const [row] = await db.select().from(dagRuns).where(and(eq(dagRuns.dagId, dagId), eq(dagRuns.runId, runId)));
  return row;
}

export async function getDagRunById(db: Queryable, id: number): Promise<DagRunRow | undefined> {
  const [row] = await db.select().from(dagRuns).where(eq(dagRuns.id, id));
  return row;
}
