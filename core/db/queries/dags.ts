import { asc, eq } from 'drizzle-orm';
import type { Queryable } from '../client.ts';
import { dags, type DagRow } from '../schema/dag.ts';
import { importErrors } from '../schema/import-error.ts';

export async function listDags(db: Queryable, options: { includeInactive?: boolean } = {}): Promise<DagRow[]> {
  const query = db.select().from(dags).orderBy(asc(dags.dagId));
  return options.includeInactive ? query : query.where(eq(dags.isActive, true));
}

export async function getDag(db: Queryable, dagId: string): Promise<DagRow | undefined> {
  const [row] = await db.select().from(dags).where(eq(dags.dagId, dagId));
  return row;
}

/** Pauses or unpauses; returns false when the DAG is unknown. */
export async function setDagPaused(db: Queryable, dagId: string, paused: boolean): Promise<boolean> {
  const updated = await db.update(dags).set({ isPaused: paused }).where(eq(dags.dagId, dagId)).returning({ dagId: dags.dagId });
  return updated.length > 0;
}

export async function listImportErrors(db: Queryable) {
  return db.select().from(importErrors).orderBy(asc(importErrors.filename));
}
