import { bigserial, doublePrecision, index, integer, jsonb, pgTable, pgView, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** Row names of Daily Picks. */
/** A row's name; which rows exist is the application's business (daily-picks/rows/row-specs.ts). */
export type PicksRowName = string;

function picksColumns() {
  return {
    memberId: text('member_id').notNull(),
    row: text('row').$type<PicksRowName>().notNull(),
    /** 1-based. */
    position: integer('position').notNull(),
    classId: text('class_id').notNull(),
    score: doublePrecision('score').notNull(),
    reason: text('reason').notNull(),
    /** `heuristics`, `popularity` or the ranker's model version. */
    modelVersion: text('model_version').notNull(),
    runId: text('run_id').notNull(),
    generatedAt: timestamp('generated_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** The experiment whose variant ranked this row, and the member's variant (null outside experiments; migration 0012). */
    experimentKey: text('experiment_key'),
    variant: text('variant'),
  };
}

/**
 * The published picks: exactly one run's set. A view over that publication's own table
 * (`picks_set_<publication id>`, primary key member_id, row, position): publishing loads a new
 * table and repoints the view in one transaction, so readers see the old set or the new one,
 * and grants on `picks` and views built on it stay as they are. Made by migration 0009, with
 * `picks_previous` (the set shown before the last publish or rollback), which only publish and
 * rollback use, in plain SQL, so it has no drizzle object. `.existing()`: drizzle-kit writes no
 * DDL for these views.
 */
export const picks = pgView('picks', picksColumns()).existing();

export type PickRow = typeof picks.$inferSelect;

/** `staged` while loading; then `current`, `previous` (kept for rollback), `retired`. */
export type PicksPublicationStatus = 'staged' | 'current' | 'previous' | 'retired';

/** Rows served to a member the set does not know: popular classes. */
export type PopularRows = { row: string; picks: { classId: string; score: number; reason: string }[] }[];

/** One publish of a run's picks; at most one is `current` and one `previous`. */
export const picksPublications = pgTable(
  'picks_publication',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    dagId: text('dag_id').notNull(),
    runId: text('run_id').notNull(),
    modelVersion: text('model_version').notNull(),
    generatedAt: timestamp('generated_at', { withTimezone: true, mode: 'date' }).notNull(),
    publishedAt: timestamp('published_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    status: text('status').$type<PicksPublicationStatus>().notNull(),
    memberCount: integer('member_count').notNull(),
    pickCount: integer('pick_count').notNull(),
    popularRows: jsonb('popular_rows').$type<PopularRows>().notNull().default([]),
  },
  (table) => [
    uniqueIndex('picks_publication_dag_id_run_id_key').on(table.dagId, table.runId),
    index('picks_publication_status_idx').on(table.status),
  ],
);

export type PicksPublicationRow = typeof picksPublications.$inferSelect;
