import { index, json, pgTable, timestamp, varchar } from 'drizzle-orm/pg-core';

/** Browser sessions, read and written by connect-pg-simple (its own table layout, created here by migration). */
export const sessions = pgTable(
  'session',
  {
    sid: varchar('sid').primaryKey(),
    sess: json('sess').notNull(),
    expire: timestamp('expire', { precision: 6, mode: 'date' }).notNull(),
  },
  (table) => [index('IDX_session_expire').on(table.expire)],
);
