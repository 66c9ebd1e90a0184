import { integer, pgTable, text } from 'drizzle-orm/pg-core';

/** A worker pool: one BullMQ queue plus a slot limit (tasks of the pool running at once, cluster-wide). */
export const pools = pgTable('pool', {
  name: text('name').primaryKey(),
  slots: integer('slots').notNull(),
  description: text('description'),
});
