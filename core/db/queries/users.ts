import { asc, eq, sql } from 'drizzle-orm';
import type { Queryable } from '../client.ts';
import { apiTokens, type ApiTokenRow } from '../schema/api-token.ts';
import { users, type Role, type UserRow } from '../schema/user.ts';

/** A user as the web layer sees it: never the password hash. */
export interface PublicUser {
  id: number;
  username: string;
  role: Role;
  isActive: boolean;
  createdAt: Date;
  lastLoginAt: Date | null;
}

export function publicUser(row: UserRow): PublicUser {
  return { id: row.id, username: row.username, role: row.role, isActive: row.isActive, createdAt: row.createdAt, lastLoginAt: row.lastLoginAt };
}

/** Inserts a user; returns null when the username (case-insensitive) is taken. */
export async function insertUser(db: Queryable, user: { username: string; passwordHash: string; role: Role }): Promise<UserRow | null> {
  const rows = await db.insert(users).values(user).onConflictDoNothing().returning();
  return rows[0] ?? null;
}

export async function findUserByUsername(db: Queryable, username: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(sql`lower(${users.username}) = lower(${username})`);
  return row;
}

export async function getUserById(db: Queryable, id: number): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row;
}

export async function listUsers(db: Queryable): Promise<UserRow[]> {
  return db.select().from(users).orderBy(asc(users.username));
}

export async function updateUser(db: Queryable, id: number, changes: Partial<Pick<UserRow, 'role' | 'isActive' | 'passwordHash' | 'lastLoginAt'>>): Promise<UserRow | undefined> {
  const [row] = await db.update(users).set(changes).where(eq(users.id, id)).returning();
  return row;
}

export async function insertApiToken(db: Queryable, token: { userId: number; tokenHash: string; prefix: string; name: string | null; expiresAt: Date | null }): Promise<ApiTokenRow> {
  const [row] = await db.insert(apiTokens).values(token).returning();
  return row!;
}

/** The active user owning a live (not revoked, not expired) token with this hash. */
export async function findUserByTokenHash(db: Queryable, tokenHash: string): Promise<{ user: UserRow; tokenId: number } | undefined> {
  const [row] = await db
    .select({ user: users, tokenId: apiTokens.id })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(
      sql`${apiTokens.tokenHash} = ${tokenHash} and ${apiTokens.revokedAt} is null
          and (${apiTokens.expiresAt} is null or ${apiTokens.expiresAt} > now()) and ${users.isActive}`,
    );
  return row;
}

/** Records a token's use, at most once a minute per token (no write per request). */
export async function touchApiToken(db: Queryable, tokenId: number): Promise<void> {
  await db.execute(sql`
    update api_token set last_used_at = now()
    where id = ${tokenId} and (last_used_at is null or last_used_at < now() - interval '1 minute')
  `);
}

export async function listApiTokens(db: Queryable, userId?: number) {
  const query = db
    .select({
      id: apiTokens.id,
      username: users.username,
      prefix: apiTokens.prefix,
      name: apiTokens.name,
      createdAt: apiTokens.createdAt,
      lastUsedAt: apiTokens.lastUsedAt,
      expiresAt: apiTokens.expiresAt,
      revokedAt: apiTokens.revokedAt,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .orderBy(asc(apiTokens.id));
  return userId === undefined ? query : query.where(eq(apiTokens.userId, userId));
}

/** Revokes a token by id; returns false when there is no such live token. */
export async function revokeApiToken(db: Queryable, id: number): Promise<boolean> {
  const rows = await db.execute(sql`update api_token set revoked_at = now() where id = ${id} and revoked_at is null returning id`);
  return rows.rows.length > 0;
}
