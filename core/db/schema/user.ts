import { sql } from 'drizzle-orm';
import { boolean, check, pgTable, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** Roles, weakest first: a viewer reads; an operator also triggers, clears, marks, pauses; an admin also manages pools. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** A person (or script owner) who may use the web UI and API. */
export const users = pgTable(
  'app_user',
  {
    id: serial('id').primaryKey(),
    username: text('username').notNull(),
    /** argon2id PHC string; never the password. */
    passwordHash: text('password_hash').notNull(),
    role: text('role').$type<Role>().notNull(),
    /** A disabled user can neither log in nor use tokens; their sessions stop working at once. */
    isActive: boolean('is_active').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastLoginAt: timestamp('last_login_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [
    uniqueIndex('app_user_username_key').on(sql`lower(${table.username})`),
    check('app_user_role_check', sql`${table.role} in ('viewer', 'operator', 'admin')`),
  ],
);

export type UserRow = typeof users.$inferSelect;
