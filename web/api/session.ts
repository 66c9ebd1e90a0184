import { createHash } from 'node:crypto';
import express, { type Request } from 'express';
import { z } from 'zod';
import type { Database } from '../../core/db/client.ts';
import { findUserByUsername, publicUser, updateUser } from '../../core/db/queries/users.ts';
import type { Logger } from '../../core/logger.ts';
import { FlywheelError } from '../../core/errors.ts';
import { parseInput } from '../http.ts';
import { audit, csrf, LoginThrottle, requireWrite } from '../auth/middleware.ts';
import { verifyPassword } from '../auth/passwords.ts';

const loginBody = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((error) => (error ? reject(error) : resolve())));
}

function save(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((error) => (error ? reject(error) : resolve())));
}

/**
 * What a failed-login warning says about who tried, never the text typed as the username: a
 * password typed into that field would otherwise land in the log. A known user is named (their
 * stored name is no secret) with the reason; an unknown name is told apart from others only by
 * the first 8 hex digits of its SHA-256 and its length, enough to see one name retried.
 */
export function failedLoginFields(user: { id: number; username: string; isActive: boolean } | undefined, typed: string) {
  if (user) return { userExists: true, userId: user.id, user: user.username, reason: user.isActive ? 'wrong password' : 'user disabled' };
  return { userExists: false, usernameSha256: createHash('sha256').update(typed).digest('hex').slice(0, 8), usernameLength: typed.length };
}

/** `/session`: who am I (+ CSRF token), log in, log out. */
export function sessionRouter(options: { db: Database; logger: Logger }): express.Router {
  const { db, logger } = options;
  const router = express.Router();
  const throttle = new LoginThrottle();

  router.get('/session', (req, res) => {
    if (!req.auth) {
      res.json({ user: null });
      return;
    }
    res.json({ user: req.auth.user, method: req.auth.method, ...(req.auth.method === 'session' ? { csrfToken: csrf.generateToken(req) } : {}) });
  });

  router.post('/session', async (req, res) => {
    // A cross-site HTML form cannot send JSON: this keeps login itself from being forged.
    if (!req.is('application/json')) throw new FlywheelError('unsupported_media_type', 'send the credentials as application/json');
    const body = parseInput(loginBody, req.body);
    const keys = [`user:${body.username.toLowerCase()}`, `ip:${req.ip ?? ''}`];
    throttle.check(keys);
    const user = await findUserByUsername(db, body.username);
    const ok = await verifyPassword(user?.passwordHash, body.password);
    if (!user || !ok || !user.isActive) {
      throttle.fail(keys);
      logger.warn({ ...failedLoginFields(user, body.username), ip: req.ip }, 'failed login');
      throw new FlywheelError('unauthorized', 'wrong username or password');
    }
    throttle.succeed(keys);
    await regenerate(req); // a fresh session id at login (no session fixation)
    req.session.userId = user.id;
    const csrfToken = csrf.generateToken(req, true);
    await save(req);
    const updated = await updateUser(db, user.id, { lastLoginAt: new Date() });
    req.auth = { user: publicUser(updated ?? user), method: 'session' };
    await audit(db, req, 'auth.login', { target: user.username });
    res.json({ user: req.auth.user, csrfToken });
  });

  router.delete('/session', requireWrite('viewer'), async (req, res) => {
    if (req.auth?.method !== 'session') throw new FlywheelError('invalid', 'not a browser session (API tokens are revoked with `flywheel tokens revoke`)');
    await new Promise<void>((resolve, reject) => req.session.destroy((error) => (error ? reject(error) : resolve())));
    res.clearCookie('flywheel.sid');
    res.status(204).end();
  });

  return router;
}
