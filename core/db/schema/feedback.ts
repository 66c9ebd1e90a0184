/**
 * What members were shown and what they did with it: the `feedback` PostgreSQL schema. Its
 * tables but `exposure` are partitioned by day (`day`, UTC): drizzle-kit cannot say so, so
 * migration 0011 adds `PARTITION BY RANGE (day)` to what it generated, by hand. A day's partitions are created on first write by
 * `feedback.ensure_partitions(from, to)` and dropped past the retention by
 * `feedback.drop_partitions_before(day)`.
 */
import { bigint, date, integer, pgSchema, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

export const feedbackSchema = pgSchema('feedback');

/** Who logged an impression: the picks API when it served the rows, or a client that rendered them. */
export type ImpressionSource = 'api' | 'client';

/**
 * A class shown to a member in a row at a position, once per day: primary key (day, member_id,
 * row, position, class_id), so a member who opens the app five times a day, or whose client also
 * reports what the API logged, counts once.
 */
export const impressions = feedbackSchema.table('impression', {
  day: date('day', { mode: 'string' }).notNull(),
  servedAt: timestamp('served_at', { withTimezone: true, mode: 'date' }).notNull(),
  memberId: text('member_id').notNull(),
  row: text('row').notNull(),
  /** 1-based. */
  position: integer('position').notNull(),
  classId: text('class_id').notNull(),
  publicationId: bigint('publication_id', { mode: 'number' }),
  modelVersion: text('model_version'),
  experimentKey: text('experiment_key'),
  variant: text('variant'),
  source: text('source').$type<ImpressionSource>().notNull(),
}, (table) => [primaryKey({ columns: [table.day, table.memberId, table.row, table.position, table.classId] })]);

export type ClientEventType = 'impression' | 'click';

/** A client's event (`POST /api/v1/events`), primary key (day, event_id): a retried batch counts once. */
export const clientEvents = feedbackSchema.table('event', {
  day: date('day', { mode: 'string' }).notNull(),
  eventId: text('event_id').notNull(),
  type: text('type').$type<ClientEventType>().notNull(),
  memberId: text('member_id').notNull(),
  classId: text('class_id').notNull(),
  row: text('row').notNull(),
  position: integer('position').notNull(),
  publicationId: bigint('publication_id', { mode: 'number' }),
  modelVersion: text('model_version'),
  experimentKey: text('experiment_key'),
  variant: text('variant'),
  occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull(),
  receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
}, (table) => [primaryKey({ columns: [table.day, table.eventId] })]);

/**
 * A workout of a class shown to the member, attributed to the impression it followed; primary
 * key (day, workout_id), `day` the workout's: a workout converts at most once.
 */
export const conversions = feedbackSchema.table('conversion', {
  day: date('day', { mode: 'string' }).notNull(),
  workoutId: bigint('workout_id', { mode: 'number' }).notNull(),
  memberId: text('member_id').notNull(),
  classId: text('class_id').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
  /** The impression's time, row and position, publication, model version and variant. */
  servedAt: timestamp('served_at', { withTimezone: true, mode: 'date' }).notNull(),
  row: text('row').notNull(),
  position: integer('position').notNull(),
  publicationId: bigint('publication_id', { mode: 'number' }),
  modelVersion: text('model_version'),
  experimentKey: text('experiment_key'),
  variant: text('variant'),
  attributedAt: timestamp('attributed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
}, (table) => [primaryKey({ columns: [table.day, table.workoutId] })]);

/** A member's first exposure to an experiment (not partitioned: one row per member and experiment). */
export const exposures = feedbackSchema.table('exposure', {
  experimentKey: text('experiment_key').notNull(),
  memberId: text('member_id').notNull(),
  variant: text('variant').notNull(),
  exposedAt: timestamp('exposed_at', { withTimezone: true, mode: 'date' }).notNull(),
  publicationId: bigint('publication_id', { mode: 'number' }),
}, (table) => [primaryKey({ columns: [table.experimentKey, table.memberId] })]);
