import { createHash, randomBytes } from 'node:crypto';

/** API tokens look like `fw_<43 base64url chars>` (256 random bits). */
export const TOKEN_PREFIX = 'fw_';

export function generateApiToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** What is stored: the hex SHA-256 of the token. A token has 256 random bits, so a fast hash suffices. */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The part of a token shown in listings, to tell tokens apart. */
export function tokenDisplayPrefix(token: string): string {
  return token.slice(0, TOKEN_PREFIX.length + 6);
}
