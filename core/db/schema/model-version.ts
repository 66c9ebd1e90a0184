import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { JsonObject } from '../../sdk/json.ts';

/** Where a model is in its life: trained and waiting, serving, replaced, or never usable. */
export type ModelStage = 'candidate' | 'production' | 'archived' | 'failed';
/** How its training run went. */
export type ModelStatus = 'running' | 'succeeded' | 'failed';
/** Metrics keyed by candidate (`ranker`, `heuristics`, `popularity`, `baseline`, …), each e.g. `{ 'ndcg@10': 0.41, 'recall@10': 0.63 }`. */
export type ModelMetrics = Record<string, Record<string, number>>;
/** Row counts of the training data, e.g. `{ members: 5000, classes: 800, train: 1200000, validation: 80000 }`. */
export type ModelRowCounts = Record<string, number>;

/**
 * The model registry: one row per training run (a model version). At most one version of a
 * model name is in `production`; promoting another archives it in the same transaction.
 */
export const modelVersions = pgTable(
  'model_version',
  {
    /** e.g. `ranker-2026-11-28-001`, made by registerModel. */
    version: text('version').primaryKey(),
    /** e.g. `daily_picks_ranker`. */
    modelName: text('model_name').notNull(),
    stage: text('stage').$type<ModelStage>().notNull().default('candidate'),
    status: text('status').$type<ModelStatus>().notNull().default('running'),
    /** TensorFlow.js backend it trained on: `tensorflow`, `wasm`, `cpu`, … */
    backend: text('backend').notNull(),
    params: jsonb('params').$type<JsonObject>().notNull().default({}),
    dataLocation: text('data_location'),
    rowCounts: jsonb('row_counts').$type<ModelRowCounts>().notNull().default({}),
    metrics: jsonb('metrics').$type<ModelMetrics>().notNull().default({}),
    /**
     * What the version serves and why, decided on the holdout: which candidate ranks which
     * segment of members, the holdout used, the state of the production model it was compared
     * with (the application's shape; see model/serving-plan.ts). Null for versions from before.
     */
    serving: jsonb('serving').$type<JsonObject>(),
    durationMs: integer('duration_ms'),
    artifactPath: text('artifact_path'),
    /** The DAG run that trained it, when trained by one. */
    dagId: text('dag_id'),
    runId: text('run_id'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 6 }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date', precision: 6 }),
    promotedAt: timestamp('promoted_at', { withTimezone: true, mode: 'date', precision: 6 }),
    promotedBy: text('promoted_by'),
    error: text('error'),
  },
  (table) => [
    // One production model per name, whatever races.
    uniqueIndex('model_version_one_production_key').on(table.modelName).where(sql`stage = 'production'`),
    // Newest first, ties by version: keyset pages are index range scans.
    index('model_version_created_at_idx').on(table.createdAt.desc().nullsFirst(), table.version.desc().nullsFirst()),
    index('model_version_stage_created_at_idx').on(table.stage, table.createdAt.desc().nullsFirst(), table.version.desc().nullsFirst()),
    check('model_version_stage_check', sql`${table.stage} in ('candidate', 'production', 'archived', 'failed')`),
    check('model_version_status_check', sql`${table.status} in ('running', 'succeeded', 'failed')`),
    check('model_version_production_succeeded_check', sql`${table.stage} <> 'production' or ${table.status} = 'succeeded'`),
  ],
);

export type ModelVersionRow = typeof modelVersions.$inferSelect;
