import { randomBytes } from 'node:crypto';
import type { Queryable } from '../../core/db/client.ts';
import { FlywheelError } from '../../core/errors.ts';
import { findUserByUsername, insertApiToken, insertUser, publicUser, type PublicUser } from '../../core/db/queries/users.ts';
import { ROLES, type Role } from '../../core/db/schema/user.ts';
import { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.ts';
import { generateApiToken, hashApiToken, tokenDisplayPrefix } from './tokens.ts';

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new FlywheelError('invalid', `the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) throw new FlywheelError('invalid', `the password must have at most ${MAX_PASSWORD_LENGTH} characters`);
}

/** A random password: 18 bytes of base64url (24 characters, 144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Creates a user with an argon2id hash of the password. */
export async function createUser(db: Queryable, input: { username: string; role: string; password: string }): Promise<PublicUser> {
  if (!USERNAME_PATTERN.test(input.username)) {
    throw new FlywheelError('invalid', `username "${input.username}" must be 1–64 letters, digits, _ . @ - (starting with a letter or digit)`);
  }
  if (!isRole(input.role)) throw new FlywheelError('invalid', `role must be one of ${ROLES.join(', ')}, not "${input.role}"`);
  checkPassword(input.password);
  const row = await insertUser(db, { username: input.username, role: input.role, passwordHash: await hashPassword(input.password) });
  if (!row) throw new FlywheelError('conflict', `user "${input.username}" already exists`);
  return publicUser(row);
}

/** Creates an API token for a user; returns the token (shown once; only its hash is stored). */
export async function createToken(db: Queryable, username: string, options: { name?: string; expiresAt?: Date } = {}): Promise<{ token: string; id: number; prefix: string; user: PublicUser }> {
  const user = await findUserByUsername(db, username);
  if (!user) throw new FlywheelError('not_found', `no user "${username}"`);
  if (!user.isActive) throw new FlywheelError('conflict', `user "${username}" is disabled`);
  const token = generateApiToken();
  const row = await insertApiToken(db, {
    userId: user.id,
    tokenHash: hashApiToken(token),
    prefix: tokenDisplayPrefix(token),
    name: options.name ?? null,
    expiresAt: options.expiresAt ?? null,
  });
  return { token, id: row.id, prefix: row.prefix, user: publicUser(user) };
}
