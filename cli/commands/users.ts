import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { type Command, InvalidArgumentError } from 'commander';
import { cliActor, jsonOption, print, withDatabase } from '../support.ts';
import type { Database } from '../../core/db/client.ts';
import { insertAuditEntry } from '../../core/db/queries/audit-log.ts';
import { findUserByUsername, listApiTokens, listUsers, publicUser, revokeApiToken, updateUser } from '../../core/db/queries/users.ts';
import { ROLES, type Role } from '../../core/db/schema/user.ts';
import { FlywheelError } from '../../core/errors.ts';
import { checkPassword, createToken, createUser, generatePassword, isRole } from '../../web/auth/accounts.ts';
import { hashPassword } from '../../web/auth/passwords.ts';

/** The users/tokens commands' database work. */
function withDb<T>(work: (db: Database) => Promise<T>): Promise<T> {
  return withDatabase(({ db }) => work(db));
}

function auditCli(db: Database, action: string, target: string, details: Record<string, string | number | boolean | null> = {}) {
  return insertAuditEntry(db, { actor: cliActor(), userId: null, auth: 'cli', action, target, details });
}

function parseRole(value: string): Role {
  if (!isRole(value)) throw new InvalidArgumentError(`must be one of ${ROLES.join(', ')}`);
  return value;
}

function parseDays(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3650) throw new InvalidArgumentError('must be a whole number of days, 1–3650');
  return n;
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let muted = false;
    const output = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        if (!muted) process.stderr.write(chunk);
        callback();
      },
    });
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
    rl.on('SIGINT', () => {
      rl.close();
      reject(new FlywheelError('invalid', 'cancelled'));
    });
  });
}

/** `flywheel users …` and `flywheel tokens …`. */
export function registerAuthCommands(program: Command): void {
  const users = program.command('users').description('web UI / API users (roles: viewer, operator, admin)');

  users
    .command('create <username>')
    .description('create a user; without --password, asks for one on a terminal, or generates one and prints it once')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`, parseRole)
    .option('--password <password>', 'the password (visible in shell history: prefer the prompt)')
    .addOption(jsonOption())
    .action(async (username: string, options: { role: Role; password?: string; json?: boolean }) => {
      let password = options.password;
      let generated = false;
      if (password === undefined) {
        if (process.stdin.isTTY && !options.json) {
          password = await promptHidden(`password for ${username}: `);
          const again = await promptHidden('again: ');
          if (again !== password) throw new FlywheelError('invalid', 'the passwords differ');
        } else {
          password = generatePassword();
          generated = true;
        }
      }
      checkPassword(password); // an `invalid` FlywheelError (exit 2) with the reason, never the password
      const user = await withDb(async (db) => {
        const created = await createUser(db, { username, role: options.role, password: password });
        await auditCli(db, 'user.create', created.username, { role: created.role });
        return created;
      });
      print(
        Boolean(options.json),
        { ...user, ...(generated ? { password } : {}) },
        generated
          ? `created ${user.role} ${user.username}; generated password (shown once):\n${password}`
          : `created ${user.role} ${user.username}`,
      );
    });

  users
    .command('list')
    .description('users and their roles')
    .addOption(jsonOption())
    .action(async (options: { json?: boolean }) => {
      const rows = (await withDb((db) => listUsers(db))).map(publicUser);
      print(
        Boolean(options.json),
        { users: rows },
        rows.length === 0 ? '(none)' : rows.map((u) => `${u.username}\t${u.role}\t${u.isActive ? 'active' : 'disabled'}\tlast login ${u.lastLoginAt?.toISOString() ?? 'never'}`).join('\n'),
      );
    });

  users
    .command('set-role <username>')
    .description("change a user's role")
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`, parseRole)
    .addOption(jsonOption())
    .action(async (username: string, options: { role: Role; json?: boolean }) => {
      const user = await withDb(async (db) => {
        const found = await findUserByUsername(db, username);
        if (!found) throw new FlywheelError('not_found', `no user "${username}"`);
        const updated = await updateUser(db, found.id, { role: options.role });
        await auditCli(db, 'user.set_role', found.username, { from: found.role, to: options.role });
        return publicUser(updated!);
      });
      print(Boolean(options.json), user, `${user.username} is now ${user.role}`);
    });

  for (const [name, active] of [['disable', false], ['enable', true]] as const) {
    users
      .command(`${name} <username>`)
      .description(active ? 'let a disabled user log in again' : 'stop a user: no login, their sessions and tokens stop working at once')
      .addOption(jsonOption())
      .action(async (username: string, options: { json?: boolean }) => {
        const user = await withDb(async (db) => {
          const found = await findUserByUsername(db, username);
          if (!found) throw new FlywheelError('not_found', `no user "${username}"`);
          const updated = await updateUser(db, found.id, { isActive: active });
          await auditCli(db, `user.${name}`, found.username);
          return publicUser(updated!);
        });
        print(Boolean(options.json), user, `${user.username} ${active ? 'enabled' : 'disabled'}`);
      });
  }

  users
    .command('set-password <username>')
    .description("replace a user's password (asks for it on a terminal, or generates one)")
    .option('--password <password>', 'the new password')
    .addOption(jsonOption())
    .action(async (username: string, options: { password?: string; json?: boolean }) => {
      let password = options.password;
      let generated = false;
      if (password === undefined) {
        if (process.stdin.isTTY && !options.json) password = await promptHidden(`new password for ${username}: `);
        else {
          password = generatePassword();
          generated = true;
        }
      }
      checkPassword(password); // an `invalid` FlywheelError (exit 2) with the reason, never the password
      const passwordHash = await hashPassword(password);
      await withDb(async (db) => {
        const found = await findUserByUsername(db, username);
        if (!found) throw new FlywheelError('not_found', `no user "${username}"`);
        await updateUser(db, found.id, { passwordHash });
        await auditCli(db, 'user.set_password', found.username);
      });
      print(Boolean(options.json), { username, ...(generated ? { password } : {}) }, generated ? `new password for ${username} (shown once):\n${password}` : `password of ${username} changed`);
    });

  const tokens = program.command('tokens').description('API tokens for scripts (Authorization: Bearer <token>)');

  tokens
    .command('create <username>')
    .description("create an API token acting as the user (with the user's role); prints it on the last line, once")
    .option('--name <name>', 'what the token is for')
    .option('--expires-in-days <n>', 'expire after N days (default: never)', parseDays)
    .addOption(jsonOption())
    .action(async (username: string, options: { name?: string; expiresInDays?: number; json?: boolean }) => {
      const created = await withDb(async (db) => {
        const result = await createToken(db, username, {
          ...(options.name ? { name: options.name } : {}),
          ...(options.expiresInDays ? { expiresAt: new Date(Date.now() + options.expiresInDays * 86_400_000) } : {}),
        });
        await auditCli(db, 'token.create', result.user.username, { tokenId: result.id, prefix: result.prefix });
        return result;
      });
      print(
        Boolean(options.json),
        { id: created.id, username: created.user.username, role: created.user.role, prefix: created.prefix, token: created.token },
        `API token ${created.id} for ${created.user.username} (${created.user.role}); it is shown only now:\n${created.token}`,
      );
    });

  tokens
    .command('list')
    .description('API tokens (never the tokens themselves)')
    .option('--user <username>', 'only this user')
    .addOption(jsonOption())
    .action(async (options: { user?: string; json?: boolean }) => {
      const rows = await withDb(async (db) => {
        if (!options.user) return listApiTokens(db);
        const found = await findUserByUsername(db, options.user);
        if (!found) throw new FlywheelError('not_found', `no user "${options.user}"`);
        return listApiTokens(db, found.id);
      });
      print(
        Boolean(options.json),
        { tokens: rows },
        rows.length === 0
          ? '(none)'
          : rows.map((t) => `${t.id}\t${t.username}\t${t.prefix}…\t${t.name ?? ''}\t${t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt < new Date() ? 'expired' : 'live'}`).join('\n'),
      );
    });

  tokens
    .command('revoke <id>')
    .description('revoke an API token (by the id `tokens list` shows)')
    .addOption(jsonOption())
    .action(async (id: string, options: { json?: boolean }) => {
      const tokenId = Number(id);
      if (!Number.isInteger(tokenId) || tokenId < 1) throw new FlywheelError('invalid', `"${id}" is not a token id`);
      await withDb(async (db) => {
        if (!(await revokeApiToken(db, tokenId))) throw new FlywheelError('not_found', `no live token ${tokenId}`);
        await auditCli(db, 'token.revoke', String(tokenId));
      });
      print(Boolean(options.json), { id: tokenId, revoked: true }, `token ${tokenId} revoked`);
    });
}
