import { index, integer, pgTable, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { users } from './user.ts';

/**
 * An API token for scripts (`Authorization: Bearer <token>`). Only a SHA-256 hash of the
 * token is stored: tokens are 256 random bits, so a fast hash is enough (no dictionary to guess from).
 */
export const apiTokens = pgTable(
  'api_token',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** Hex SHA-256 of the whole token. */
    tokenHash: text('token_hash').notNull(),
    /** The token's first characters, to tell tokens apart in listings. */
    prefix: text('prefix').notNull(),
    name: text('name'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [uniqueIndex('api_token_token_hash_key').on(table.tokenHash), index('api_token_user_id_idx').on(table.userId)],
);

export type ApiTokenRow = typeof apiTokens.$inferSelect;
