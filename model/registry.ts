/**
 * The model registry: every training run is a model version (parameters, backend, data
 * location and row counts, metrics per candidate, duration, artifact path, status). At most one
 * version of a model is in production; promoting another archives it in the same transaction.
 *
 * The trainer calls `registerModel` when a run starts (status `running`) or ends, and
 * `finishModel` when it ends; operators promote from the UI, the API or `flywheel models promote`.
 */
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Database, Queryable } from '../core/db/client.ts';
import type { AuditHook } from '../core/db/queries/audit-log.ts';
import { getModelVersion, getProductionModel, insertModelVersion, lastVersionSequence, listModelVersions, type ModelListQuery } from '../core/db/queries/models.ts';
import { modelVersions, type ModelMetrics, type ModelRowCounts, type ModelStage, type ModelStatus, type ModelVersionRow } from '../core/db/schema/model-version.ts';
import { inTransaction } from '../core/db/transaction.ts';
import { FlywheelError } from '../core/errors.ts';

export type { ModelMetrics, ModelRowCounts, ModelStage, ModelStatus, ModelVersionRow };

export const MODEL_STAGES = ['candidate', 'production', 'archived', 'failed'] as const satisfies readonly ModelStage[];
export const MODEL_STATUSES = ['running', 'succeeded', 'failed'] as const satisfies readonly ModelStatus[];
/** The candidates the evaluation compares, in display order (others may be recorded too). */
export const METRIC_CANDIDATES = ['ranker', 'ease', 'heuristics', 'popularity', 'baseline'] as const;
export const DEFAULT_MODEL_NAME = 'daily_picks_ranker';
export const DEFAULT_VERSION_PREFIX = 'ranker';

/** A refused registry operation: `invalid` input, `not_found` version, `conflict` with its state. */
export class ModelRegistryError extends FlywheelError {
  override readonly name = 'ModelRegistryError';
}

const name = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'lower-case letters, digits, _ . - (1–64, starting with a letter)');
const finite = z.number().refine(Number.isFinite, 'must be a finite number');
export const metricsSchema = z.record(z.string().min(1).max(64), z.record(z.string().min(1).max(64), finite));
export const rowCountsSchema = z.record(z.string().min(1).max(64), z.number().int().min(0));
const durationMs = z.number().int().min(0).max(2 ** 31 - 1);

const registerInput = z
  .object({
    modelName: name.default(DEFAULT_MODEL_NAME),
    /** Versions are `<prefix>-YYYY-MM-DD-NNN` (UTC date, NNN counting up within the day). */
    versionPrefix: name.default(DEFAULT_VERSION_PREFIX),
    status: z.enum(MODEL_STATUSES).default('running'),
    backend: z.string().min(1).max(64),
    params: z.record(z.string(), z.json()).default({}),
    dataLocation: z.string().max(2000).nullish(),
    rowCounts: rowCountsSchema.default({}),
    metrics: metricsSchema.default({}),
    durationMs: durationMs.nullish(),
    artifactPath: z.string().max(2000).nullish(),
    dagId: z.string().max(250).nullish(),
    runId: z.string().max(250).nullish(),
    error: z.string().max(20_000).nullish(),
  })
  .strict();

export type RegisterModelInput = z.input<typeof registerInput>;

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ModelRegistryError('invalid', parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; '));
  }
  return parsed.data;
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string } };
  return (e.code ?? e.cause?.code) === '23505';
}

/** `ranker-2026-11-28` for a date (UTC). */
export function versionDayPrefix(prefix: string, at: Date): string {
  return `${prefix}-${at.toISOString().slice(0, 10)}`;
}

/**
 * Records a training run as a new model version (stage `candidate`, or `failed` when its status
 * is `failed`) and returns it, with its generated version (`ranker-2026-11-28-001`).
 */
export async function registerModel(db: Queryable, input: RegisterModelInput, now = new Date()): Promise<ModelVersionRow> {
  const m = parse(registerInput, input);
  const day = versionDayPrefix(m.versionPrefix, now);
  for (let attempt = 1; ; attempt += 1) {
    const version = `${day}-${String((await lastVersionSequence(db, day)) + 1).padStart(3, '0')}`;
    try {
      return await insertModelVersion(db, {
        version,
        modelName: m.modelName,
        stage: m.status === 'failed' ? 'failed' : 'candidate',
        status: m.status,
        backend: m.backend,
        params: m.params,
        dataLocation: m.dataLocation ?? null,
        rowCounts: m.rowCounts,
        metrics: m.metrics,
        durationMs: m.durationMs ?? null,
        artifactPath: m.artifactPath ?? null,
        dagId: m.dagId ?? null,
        runId: m.runId ?? null,
        error: m.error ?? null,
        finishedAt: m.status === 'running' ? null : now,
      });
    } catch (error) {
      // Two trainers took the same number: take the next one.
      if (attempt >= 10 || !isUniqueViolation(error)) throw error;
    }
  }
}

const finishInput = z
  .object({
    status: z.enum(['succeeded', 'failed']),
    metrics: metricsSchema.optional(),
    rowCounts: rowCountsSchema.optional(),
    /** The serving decision (see model/serving-plan.ts), as JSON. */
    serving: z.record(z.string(), z.json()).nullish(),
    durationMs: durationMs.nullish(),
    artifactPath: z.string().max(2000).nullish(),
    error: z.string().max(20_000).nullish(),
  })
  .strict();

export type FinishModelInput = z.input<typeof finishInput>;

/** Ends a `running` version: `succeeded` (it stays a candidate) or `failed` (stage `failed`). */
export async function finishModel(db: Queryable, version: string, input: FinishModelInput): Promise<ModelVersionRow> {
  const f = parse(finishInput, input);
  const [row] = await db
    .update(modelVersions)
    .set({
      status: f.status,
      ...(f.status === 'failed' ? { stage: 'failed' as const } : {}),
      ...(f.metrics !== undefined ? { metrics: f.metrics } : {}),
      ...(f.rowCounts !== undefined ? { rowCounts: f.rowCounts } : {}),
      ...(f.serving !== undefined ? { serving: f.serving } : {}),
      ...(f.durationMs !== undefined ? { durationMs: f.durationMs } : {}),
      ...(f.artifactPath !== undefined ? { artifactPath: f.artifactPath } : {}),
      ...(f.error !== undefined ? { error: f.error } : {}),
      finishedAt: new Date(),
    })
    .where(sql`${modelVersions.version} = ${version} and ${modelVersions.status} = 'running'`)
    .returning();
  if (row) return row;
  const existing = await getModelVersion(db, version);
  if (!existing) throw new ModelRegistryError('not_found', `no model version "${version}"`);
  throw new ModelRegistryError('conflict', `model ${version} has already finished (${existing.status})`);
}

export interface PromoteResult {
  version: string;
  modelName: string;
  /** The version that was in production before, now archived (null when none was). */
  previous: string | null;
  promotedAt: Date;
  promotedBy: string;
}

/**
 * Puts a succeeded version into production, in one transaction: the model's current production
 * version becomes `archived`. Refused (409) for a version that is running, failed, or already in
 * production; 404 for an unknown one. `audit` writes the audit entry in the same transaction.
 */
export async function promoteModel(db: Database, version: string, options: { by: string; audit?: AuditHook }): Promise<PromoteResult> {
  return inTransaction(db, async (tx) => {
    const found = await getModelVersion(tx, version);
    if (!found) throw new ModelRegistryError('not_found', `no model version "${version}"`);
    // One promotion of a model at a time: the second waits, then sees the first's result.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`model_version:${found.modelName}`}))`);
    const row = (await tx.select().from(modelVersions).where(sql`${modelVersions.version} = ${version}`).for('update'))[0]!;
    if (row.stage === 'production') throw new ModelRegistryError('conflict', `model ${version} is already in production`);
    if (row.status !== 'succeeded') {
      throw new ModelRegistryError('conflict', `only a succeeded model can be promoted: ${version} is ${row.status === 'running' ? 'still training' : 'failed'}`);
    }
    const archived = await tx
      .update(modelVersions)
      .set({ stage: 'archived' })
      .where(sql`${modelVersions.modelName} = ${row.modelName} and ${modelVersions.stage} = 'production'`)
      .returning({ version: modelVersions.version });
    const promotedAt = new Date();
    await tx.update(modelVersions).set({ stage: 'production', promotedAt, promotedBy: options.by }).where(sql`${modelVersions.version} = ${version}`);
    const result: PromoteResult = { version, modelName: row.modelName, previous: archived[0]?.version ?? null, promotedAt, promotedBy: options.by };
    await options.audit?.(tx, { version, modelName: row.modelName, previous: result.previous });
    return result;
  });
}

export async function requireModel(db: Queryable, version: string): Promise<ModelVersionRow> {
  const row = await getModelVersion(db, version);
  if (!row) throw new ModelRegistryError('not_found', `no model version "${version}"`);
  return row;
}

/** The model in production (what the ranking step should load), or null. */
export async function productionModel(db: Queryable, modelName = DEFAULT_MODEL_NAME): Promise<ModelVersionRow | null> {
  return getProductionModel(db, modelName);
}

export interface ModelPage {
  models: ModelVersionRow[];
  /** Pass as `before` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** A page of versions, newest first. An unknown cursor is a 400. */
export async function listModels(db: Queryable, query: ModelListQuery): Promise<ModelPage> {
  if (query.before !== undefined && !(await getModelVersion(db, query.before))) throw new ModelRegistryError('invalid', 'cursor: not a model version from a previous page');
  const models = await listModelVersions(db, query);
  const last = models.at(-1);
  return { models, nextCursor: models.length === query.limit && last ? last.version : null };
}
