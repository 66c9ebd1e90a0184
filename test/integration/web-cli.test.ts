import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlywheel } from '../support/cli.ts';
import { listAuditEntries } from '../../core/db/queries/audit-log.ts';
import { json, tokenRequest, WebFixture } from './web-support.ts';

/** `flywheel users …` / `flywheel tokens …` as real child processes against the fixture's database. */
describe('users and tokens CLI', () => {
  let web: WebFixture;
  const cli = (...args: string[]) => runFlywheel(args, { env: { ...web.harness.childEnv(), FLYWHEEL_LOG_LEVEL: 'debug' }, timeoutMs: 30_000 });

  beforeAll(async () => {
    web = await WebFixture.start({ scheduler: false, workers: {} });
  });
  afterAll(async () => {
    await web?.close();
  });

  it('creates a user with a given password, who can then log in', async () => {
    const created = await cli('users', 'create', 'dora', '--role', 'operator', '--password', 'dora-password-1');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe('created operator dora\n');
    expect(created.stdout + created.stderr).not.toContain('dora-password-1');
    const login = await fetch(`${web.api}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'dora', password: 'dora-password-1' }) });
    expect(login.status).toBe(200);
    expect((await json<{ user: { role: string } }>(login)).user.role).toBe('operator');
  });

  it('generates a password when none is given (no terminal) and prints it once, on stdout only', async () => {
    const created = await cli('users', 'create', 'gen', '--role', 'viewer');
    expect(created.code, created.stderr).toBe(0);
    const password = created.stdout.trim().split('\n').at(-1)!;
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(created.stderr).not.toContain(password);
    const login = await fetch(`${web.api}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'gen', password }) });
    expect(login.status).toBe(200);
  });

  it('tokens create prints the token on its last line; the token works with the user\'s role', async () => {
    const created = await cli('tokens', 'create', 'dora', '--name', 'nightly script');
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trimEnd().split('\n').at(-1)!;
    expect(token).toMatch(/^fw_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).not.toContain(token);
    const res = await tokenRequest(web.api, 'POST', '/dags/web_flaky/runs', token, { conf: {} });
    expect(res.status).toBe(201);
    const listed = await cli('tokens', 'list', '--json');
    const tokens = JSON.parse(listed.stdout) as { tokens: { username: string; prefix: string; name: string }[] };
    expect(tokens.tokens.find((t) => t.name === 'nightly script')).toMatchObject({ username: 'dora', prefix: token.slice(0, 9) });
    expect(listed.stdout).not.toContain(token);
  });

  it('revokes tokens, changes roles and disables users', async () => {
    const { stdout } = await cli('tokens', 'create', 'dora', '--json');
    const { id, token } = JSON.parse(stdout) as { id: number; token: string };
    expect((await cli('tokens', 'revoke', String(id))).code).toBe(0);
    expect((await tokenRequest(web.api, 'GET', '/dags', token)).status).toBe(401);
    expect((await cli('tokens', 'revoke', String(id))).code).toBe(2); // already revoked

    const other = JSON.parse((await cli('tokens', 'create', 'dora', '--json')).stdout) as { token: string };
    expect((await cli('users', 'set-role', 'dora', '--role', 'viewer')).code).toBe(0);
    expect((await tokenRequest(web.api, 'POST', '/dags/web_flaky/runs', other.token, { conf: {} })).status).toBe(403);
    expect((await cli('users', 'disable', 'dora')).code).toBe(0);
    expect((await tokenRequest(web.api, 'GET', '/dags', other.token)).status).toBe(401);
    const users = JSON.parse((await cli('users', 'list', '--json')).stdout) as { users: { username: string; role: string; isActive: boolean }[] };
    expect(users.users.find((u) => u.username === 'dora')).toMatchObject({ role: 'viewer', isActive: false });
    expect(JSON.stringify(users)).not.toMatch(/argon2/);

    const entries = await listAuditEntries(web.harness.db, { limit: 50, action: 'token.revoke' });
    expect(entries[0]).toMatchObject({ auth: 'cli', target: String(id) });
    expect(entries[0]!.actor).toMatch(/^cli:/);
  });

  it('rejects bad input with the reason and a non-zero exit', async () => {
    const badRole = await cli('users', 'create', 'x', '--role', 'superuser', '--password', 'long-enough-1');
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toMatch(/viewer, operator, admin/);
    const short = await cli('users', 'create', 'x', '--role', 'viewer', '--password', 'short');
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least 8 characters/);
    expect(short.stderr).not.toContain('short\n');
    expect((await cli('users', 'create', 'erin', '--role', 'viewer', '--password', 'long-enough-1')).code).toBe(0);
    const dup = await cli('users', 'create', 'ERIN', '--role', 'viewer', '--password', 'long-enough-1'); // usernames are case-insensitive
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(/already exists/);
    const badName = await cli('users', 'create', 'a b', '--role', 'viewer', '--password', 'long-enough-1');
    expect(badName.code).toBe(2);
    const noUser = await cli('tokens', 'create', 'nobody');
    expect(noUser.code).toBe(2);
    expect(noUser.stderr).toMatch(/no user "nobody"/);
    const count = await web.harness.db.execute<{ n: number }>(sql`select count(*)::int as n from app_user where lower(username) in ('x', 'a b')`);
    expect(count.rows[0]!.n).toBe(0);
  });
});
