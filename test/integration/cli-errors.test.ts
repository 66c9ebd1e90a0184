/**
 * Errors that say what is wrong (issue 13): a mistyped database name, PostgreSQL or Redis down,
 * a web server that cannot start. Each is one line on stderr naming the server (host:port, the
 * database, the port) and why, with no stack and no SQL, and nothing is created or written:
 * `dags trigger` on a typo used to create and migrate a new database and report success, with
 * Redis down it wrote the run and hung, and `web` on a missing database started and answered
 * `internal error`. Real CLI processes against the shared PostgreSQL and Redis.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlywheel, type CliOutcome } from '../support/cli.ts';
import { createTestDatabase } from '../support/database.ts';

const DAGS = fileURLToPath(new URL('../fixtures/dags', import.meta.url));
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A port nothing listens on: one the OS just gave out, closed again. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `url` naming another database on the same server. */
function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** What a failed command must not print: a stack frame, drizzle's SQL dump. */
function expectOneLine(outcome: CliOutcome, line: string): void {
  expect(outcome.stderr, outcome.stderr).toBe(`${line}\n`);
  expect(outcome.stderr).not.toMatch(/^ {4}at /m);
  expect(outcome.stderr).not.toContain('Failed query');
}

describe('CLI errors that say what is wrong', { timeout: 120_000 }, () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let admin: pg.Client;
  /** host:port of the test server, as the messages name it. */
  let server: string;
  const prefix = `cli-errors-${randomUUID().slice(0, 8)}`;
  /** The CLI against the test database and Redis, the fixture DAGs, at the default log level. */
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runFlywheel(args, {
      env: { ...process.env, DATABASE_URL: database.url, REDIS_URL, DAGS_FOLDER: DAGS, FLYWHEEL_QUEUE_PREFIX: prefix, FLYWHEEL_LOG_LEVEL: 'info', ...env },
      timeoutMs: 60_000,
    });
  const databaseExists = async (name: string) => ((await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount ?? 0) > 0;
  const count = async (table: 'dag_run' | 'dag') => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query<{ n: number }>(`select count(*)::int as n from ${table}`)).rows[0]!.n;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    admin = new pg.Client({ connectionString: withDatabase(database.url, 'postgres') });
    await admin.connect();
    const url = new URL(database.url);
    server = `${url.hostname}:${url.port || 5432}`;
  });
  afterAll(async () => {
    await admin?.end();
    await database?.drop();
  });

  it('dags trigger and demo on a database that does not exist fail naming it, and create nothing; db migrate creates it', async () => {
    const name = `${database.name}_typo`;
    const typo = withDatabase(database.url, name);
    try {
      const [trigger, demo] = await Promise.all([cli(['dags', 'trigger', 'chain'], { DATABASE_URL: typo }), cli(['demo'], { DATABASE_URL: typo })]);
      const line = `error: database "${name}" does not exist on ${server}; create it with \`flywheel db migrate\``;
      expect(trigger.code, trigger.stderr).toBe(1);
      expect(trigger.stdout).toBe('');
      expectOneLine(trigger, line);
      // The demo says which database and Redis it uses first, then stops: it seeds nothing.
      expect(demo.code, demo.stderr).toBe(1);
      expectOneLine(demo, line);
      expect(await databaseExists(name)).toBe(false);

      const migrate = await cli(['db', 'migrate'], { DATABASE_URL: typo });
      expect(migrate.code, migrate.stderr).toBe(0);
      expect(migrate.stdout).toContain(`created and migrated ${typo}`);
      expect(await databaseExists(name)).toBe(true);
    } finally {
      await admin.query(`drop database if exists "${name}" with (force)`);
    }
  });

  it('PostgreSQL down: read commands fail in one line naming host:port and ECONNREFUSED, without the password; the stack only at debug', async () => {
    const port = await closedPort();
    const down = `postgres://postgres:not-this-password@127.0.0.1:${port}/flywheel`;
    const [runs, dags, users, debug] = await Promise.all([
      cli(['runs', 'list', 'chain'], { DATABASE_URL: down }),
      // It lists the folder's DAGs with what the database stores: not "nothing stored" when it cannot be read.
      cli(['dags', 'list'], { DATABASE_URL: down }),
      cli(['users', 'list'], { DATABASE_URL: down }),
      cli(['runs', 'list', 'chain'], { DATABASE_URL: down, FLYWHEEL_LOG_LEVEL: 'debug' }),
    ]);
    const line = `error: cannot connect to PostgreSQL at 127.0.0.1:${port}: connection refused (ECONNREFUSED)`;
    for (const outcome of [runs, dags, users]) {
      expect(outcome.code, outcome.stderr).toBe(1);
      expect(outcome.stdout).toBe('');
      expectOneLine(outcome, line);
    }
    expect(debug.code).toBe(1);
    expect(debug.stderr.split('\n')[0]).toBe(line);
    expect(debug.stderr).toMatch(/^ {4}at /m);
    for (const outcome of [runs, dags, users, debug]) expect(outcome.stdout + outcome.stderr).not.toContain('not-this-password');
  });

  it('Redis down: dags trigger and pools set fail within 10 s naming Redis, and write nothing', async () => {
    const port = await closedPort();
    const started = Date.now();
    const trigger = await cli(['dags', 'trigger', 'chain'], { REDIS_URL: `redis://127.0.0.1:${port}` });
    const seconds = (Date.now() - started) / 1000;
    const line = `error: cannot connect to Redis at 127.0.0.1:${port}: connection refused (ECONNREFUSED)`;
    expect(trigger.code, trigger.stderr).toBe(1);
    expectOneLine(trigger, line);
    expect(seconds).toBeLessThan(10);
    expect(await count('dag_run')).toBe(0);
    expect(await count('dag')).toBe(0);

    const pools = await cli(['pools', 'set', 'default', '--slots', '3'], { REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(pools.code, pools.stderr).toBe(1);
    expectOneLine(pools, line);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      expect((await client.query<{ slots: number }>("select slots from pool where name = 'default'")).rows[0]?.slots).not.toBe(3);
    } finally {
      await client.end();
    }
  });

  it('web refuses to start on a missing or unmigrated database (naming it) and on a taken port (naming it), and exits at once', async () => {
    const port = await closedPort();
    const missing = `${database.name}_missing`;
    const bare = `${database.name}_bare`;
    await admin.query(`create database "${bare}"`);
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    const takenPort = (taken.address() as net.AddressInfo).port;
    try {
      const secret = { FLYWHEEL_SECRET_KEY: 'a'.repeat(40) };
      const started = Date.now();
      const [onMissing, onBare, onTaken] = await Promise.all([
        cli(['web', '--port', String(port)], { ...secret, DATABASE_URL: withDatabase(database.url, missing) }),
        cli(['web', '--port', String(port)], { ...secret, DATABASE_URL: withDatabase(database.url, bare) }),
        cli(['web', '--port', String(takenPort)], secret),
      ]);
      // A web server that started would run until runFlywheel's 60 s timeout.
      expect((Date.now() - started) / 1000).toBeLessThan(30);
      expect(onMissing.code, onMissing.stderr).toBe(1);
      expectOneLine(onMissing, `error: database "${missing}" does not exist on ${server}; create it with \`flywheel db migrate\``);
      expect(onBare.code, onBare.stderr).toBe(2);
      expectOneLine(onBare, `error: the database "${bare}" on ${server} has no Flywheel tables yet: run \`flywheel db migrate\` first`);
      expect(onTaken.code, onTaken.stderr).toBe(1);
      // The app was built before it tried the port: its start-up logs may come first.
      expect(onTaken.stderr.trimEnd().split('\n').at(-1)).toBe(`error: port ${takenPort} is already in use (EADDRINUSE): stop what listens on it, or choose another port with --port or PORT`);
      expect(onTaken.stderr).not.toMatch(/^ {4}at /m);
      expect(await databaseExists(missing)).toBe(false);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
      await admin.query(`drop database if exists "${bare}" with (force)`);
    }
  });
});
