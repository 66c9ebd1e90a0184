import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** A DAG file that failed to load, with the reason; cleared when the file loads again. */
export const importErrors = pgTable('import_error', {
  filename: text('filename').primaryKey(),
  message: text('message').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});
