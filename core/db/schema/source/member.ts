import { text, timestamp } from 'drizzle-orm/pg-core';
import { sourceSchema } from './schema.ts';

/** A member of the platform. Imported interactions add members with only an id. */
export const members = sourceSchema.table('member', {
  memberId: text('member_id').primaryKey(),
  signupAt: timestamp('signup_at', { withTimezone: true, mode: 'date' }),
  /** IANA zone, e.g. `America/New_York`. */
  timezone: text('timezone'),
});

export type MemberRow = typeof members.$inferSelect;
