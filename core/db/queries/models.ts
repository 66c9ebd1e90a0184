import { sql, type SQL } from 'drizzle-orm';
import type { Queryable } from '../client.ts';
import { modelVersions, type ModelStage, type ModelVersionRow } from '../schema/model-version.ts';

export type NewModelVersion = typeof modelVersions.$inferInsert;

export async function insertModelVersion(db: Queryable, row: NewModelVersion): Promise<ModelVersionRow> {
  const [inserted] = await db.insert(modelVersions).values(row).returning();
  return inserted!;
}

export async function getModelVersion(db: Queryable, version: string): Promise<ModelVersionRow | null> {
  const [row] = await db.select().from(modelVersions).where(sql`${modelVersions.version} = ${version}`);
  return row ?? null;
}

/** The version of `modelName` in production, if any. */
export async function getProductionModel(db: Queryable, modelName: string): Promise<ModelVersionRow | null> {
  const [row] = await db.select().from(modelVersions).where(sql`${modelVersions.modelName} = ${modelName} and ${modelVersions.stage} = 'production'`);
  return row ?? null;
}

export interface ModelListQuery {
  limit: number;
  /** Keyset cursor: versions older than this version (by created_at, then version). */
  before?: string;
  stage?: ModelStage;
  modelName?: string;
}

/** Model versions, newest first, by keyset pagination on (created_at, version). */
export async function listModelVersions(db: Queryable, query: ModelListQuery): Promise<ModelVersionRow[]> {
  const conditions: SQL[] = [];
  if (query.stage) conditions.push(sql`${modelVersions.stage} = ${query.stage}`);
  if (query.modelName) conditions.push(sql`${modelVersions.modelName} = ${query.modelName}`);
  if (query.before !== undefined) {
    conditions.push(
      sql`(${modelVersions.createdAt}, ${modelVersions.version}) < (select m.created_at, m.version from model_version m where m.version = ${query.before})`,
    );
  }
  return db
    .select()
    .from(modelVersions)
    .where(conditions.length > 0 ? sql.join(conditions, sql` and `) : undefined)
    .orderBy(sql`${modelVersions.createdAt} desc`, sql`${modelVersions.version} desc`)
    .limit(query.limit);
}

/** The largest sequence number used by versions `<prefix>-NNN` (0 when none). */
export async function lastVersionSequence(db: Queryable, prefix: string): Promise<number> {
  const pattern = `${prefix.replaceAll('\\', '\\\\').replaceAll('%', '\\%').replaceAll('_', '\\_')}-%`;
  const result = await db.execute<{ n: number | null }>(
    sql`select max(substring(version from '-([0-9]+)$')::int) as n from model_version where version like ${pattern} and version ~ '-[0-9]+$'`,
  );
  return result.rows[0]?.n ?? 0;
}
