import { sql } from 'drizzle-orm';
import { check, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * A variant of an experiment and its share of members, in percent (the shares sum to 100).
 * `key` names what ranks the variant's rows: `heuristics`, `model`, `model_ignore_aware`, or a
 * registered model version.
 */
export type ExperimentVariant = { key: string; weight: number };

/**
 * An A/B experiment on the Daily Picks rows. Members are assigned by hashing their id with the
 * experiment key (GrowthBook's v2 FNV-1a bucketing), so the pipeline and the picks API agree
 * without a table of assignments. The first variant is the baseline the others are compared with.
 * Whether it is scheduled, running, ended or stopped follows from the times (see experimentStatus).
 */
export const experiments = pgTable(
  'experiment',
  {
    key: text('key').primaryKey(),
    variants: jsonb('variants').$type<ExperimentVariant[]>().notNull(),
    /** The rows the variants rank; the member's other rows are served as without the experiment. */
    rows: text('rows').array().notNull(),
    description: text('description'),
    startAt: timestamp('start_at', { withTimezone: true, mode: 'date' }).notNull(),
    endAt: timestamp('end_at', { withTimezone: true, mode: 'date' }),
    stoppedAt: timestamp('stopped_at', { withTimezone: true, mode: 'date' }),
    stoppedBy: text('stopped_by'),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    check('experiment_key_format', sql`${table.key} ~ '^[a-z0-9][a-z0-9_-]{0,62}$'`),
    check('experiment_end_after_start', sql`${table.endAt} is null or ${table.endAt} > ${table.startAt}`),
  ],
);

export type ExperimentRow = typeof experiments.$inferSelect;
