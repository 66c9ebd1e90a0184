/**
 * What is wrong when a server Flywheel needs cannot be used, in one line an operator can act on:
 * which server (host:port, the database; never a password) and why ("connection refused
 * (ECONNREFUSED)", "database … does not exist"), instead of a driver's stack under a SQL dump
 * (drizzle wraps every failed query as `Failed query: …` with the pg error as its `cause`).
 * Also the checks a CLI command makes before it writes anything or starts serving: Redis answers
 * a PING, the database exists and holds Flywheel's tables.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { isConnectionError } from './db/connection-errors.ts';
import { FlywheelError } from './errors.ts';

/** How long the CLI waits for Redis to answer before it says that it cannot connect. */
export const REDIS_CHECK_TIMEOUT_MS = 3000;
/** How long `requireDatabase` waits for PostgreSQL to accept a connection. */
export const DATABASE_CHECK_TIMEOUT_MS = 5000;

export interface ServerAddress {
  host: string;
  port: number;
}

/** `[::1]` → `::1`: URL keeps the brackets of an IPv6 host. */
const unbracket = (host: string) => host.replace(/^\[(.*)\]$/, '$1');

/** Where a PostgreSQL URL points, with node-postgres's defaults for what it leaves out. */
export function databaseAddress(url: string): ServerAddress & { database: string } {
  try {
    const parsed = new URL(url);
    // libpq-style `?host=` (a socket directory, another host) wins over the URL's host, as in pg.
    const host = parsed.searchParams.get('host') || unbracket(parsed.hostname) || 'localhost';
    const port = Number(parsed.searchParams.get('port') || parsed.port || 5432);
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username) || 'postgres';
    return { host, port, database };
  } catch {
    // Not a URL: config validation refuses those before anything connects; say nothing wrong.
    return { host: 'localhost', port: 5432, database: 'postgres' };
  }
}

/** Where a Redis URL points, with ioredis's defaults. */
export function redisAddress(url: string): ServerAddress {
  try {
    const parsed = new URL(url);
    return { host: unbracket(parsed.hostname) || 'localhost', port: Number(parsed.port || 6379) };
  } catch {
    return { host: 'localhost', port: 6379 };
  }
}

/** Node socket error codes, in words. */
const SOCKET_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
};

type ErrorFields = { code?: unknown; message?: unknown; port?: unknown; cause?: unknown; errors?: unknown };

/** `error`, the errors it wraps as `cause` (drizzle) and those an AggregateError holds (a host with several addresses). */
function* errorChain(error: unknown, depth = 0): Generator<ErrorFields> {
  if (!error || typeof error !== 'object' || depth > 5) return;
  const fields = error as ErrorFields;
  yield fields;
  if (Array.isArray(fields.errors)) for (const inner of fields.errors) yield* errorChain(inner, depth + 1);
  yield* errorChain(fields.cause, depth + 1);
}

/** The socket error in `error`'s chain: its code, in words, and the port it was connecting to when Node says. */
function socketProblem(error: unknown): { code: string; reason: string; port: number | null } | null {
  for (const e of errorChain(error)) {
    if (typeof e.code === 'string' && e.code in SOCKET_REASONS) {
      return { code: e.code, reason: SOCKET_REASONS[e.code]!, port: typeof e.port === 'number' ? e.port : null };
    }
  }
  return null;
}

const messageOf = (e: ErrorFields) => (typeof e.message === 'string' ? e.message : '');

/** Whether `error` is a query of a database no one has migrated: no such table (42P01) or schema (3F000). */
export function isNotMigrated(error: unknown): boolean {
  for (const e of errorChain(error)) if (e.code === '42P01' || e.code === '3F000') return true;
  return false;
}

/** The one line for a database without Flywheel's tables (`exit 2`, as it always was: migrate first). */
export function notMigrated(url: string, cause?: unknown): FlywheelError {
  const { host, port, database } = databaseAddress(url);
  return new FlywheelError('conflict', `the database "${database}" on ${host}:${port} has no Flywheel tables yet: run \`flywheel db migrate\` first`, cause === undefined ? {} : { cause });
}

/**
 * The one-line FlywheelError for `error` when it is PostgreSQL at `url` that could not be used
 * (unreachable, refusing, no such database, failed authentication, no Flywheel tables), or null
 * when it is something else: a bug, or a socket error of another server (its port differs).
 */
export function databaseProblem(error: unknown, url: string): FlywheelError | null {
  if (error instanceof FlywheelError) return error;
  const { host, port, database } = databaseAddress(url);
  const at = `${host}:${port}`;
  for (const e of errorChain(error)) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (code === '3D000') {
      // The server names the database it lacks: `db migrate` connects to `postgres` to create ours.
      const name = /database "(.*)" does not exist/.exec(messageOf(e))?.[1] ?? database;
      return new FlywheelError('unavailable', `database "${name}" does not exist on ${at}; create it with \`flywheel db migrate\``, { cause: error });
    }
    if (code === '42P01' || code === '3F000') return notMigrated(url, error);
    // Class 28: invalid authorization (a wrong password, a user pg_hba.conf does not let in). The
    // server's message names the user, never the password.
    if (code.startsWith('28')) return new FlywheelError('unavailable', `cannot connect to PostgreSQL at ${at}: ${messageOf(e)} (${code})`, { cause: error });
  }
  const socket = socketProblem(error);
  if (socket) {
    if (socket.port !== null && socket.port !== port) return null; // another server's
    return new FlywheelError('unavailable', `cannot connect to PostgreSQL at ${at}: ${socket.reason} (${socket.code})`, { cause: error });
  }
  if (isConnectionError(error)) {
    // The innermost error that is one (not drizzle's `Failed query: <the SQL>` around it).
    let found: ErrorFields | null = null;
    for (const e of errorChain(error)) if (isConnectionError(e) && !messageOf(e).startsWith('Failed query')) found = e;
    const code = typeof found?.code === 'string' ? ` (${found.code})` : '';
    return new FlywheelError('unavailable', `cannot connect to PostgreSQL at ${at}: ${found ? messageOf(found) : 'connection lost'}${code}`, { cause: error });
  }
  return null;
}

/** The one-line FlywheelError for a Redis at `url` that could not be used. */
export function redisProblem(error: unknown, url: string): FlywheelError {
  const { host, port } = redisAddress(url);
  const socket = socketProblem(error);
  const reason = socket ? `${socket.reason} (${socket.code})` : error instanceof Error ? error.message : String(error);
  return new FlywheelError('unavailable', `cannot connect to Redis at ${host}:${port}: ${reason}`, { cause: error });
}

/** The one-line FlywheelError for a web server that could not listen on `port`, or null for another error. */
export function listenProblem(error: unknown, port: number): FlywheelError | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE') return new FlywheelError('unavailable', `port ${port} is already in use (EADDRINUSE): stop what listens on it, or choose another port with --port or PORT`, { cause: error });
  if (code === 'EACCES') return new FlywheelError('unavailable', `no permission to listen on port ${port} (EACCES): choose a port above 1023 with --port or PORT`, { cause: error });
  return null;
}

/**
 * What the CLI says about a failure that is not a FlywheelError: a PostgreSQL or Redis problem
 * in one line, or null (a bug: the caller prints the stack). A socket error is Redis's only when
 * it was connecting to Redis's port; the CLI's own Redis connections fail fast through
 * `requireRedis`, so almost every connection error that gets here is PostgreSQL's.
 */
export function explainFailure(error: unknown, urls: { databaseUrl: string; redisUrl: string }): FlywheelError | null {
  if (error instanceof FlywheelError) return error;
  const socket = socketProblem(error);
  if (socket?.port !== null && socket?.port !== undefined && socket.port === redisAddress(urls.redisUrl).port && socket.port !== databaseAddress(urls.databaseUrl).port) {
    return redisProblem(error, urls.redisUrl);
  }
  return databaseProblem(error, urls.databaseUrl);
}

/**
 * Resolves once Redis at `url` answers a PING, or throws the one-line `unavailable` error within
 * `timeoutMs`. Its own connection, which gives up at once: the runtime's connection retries
 * forever (BullMQ needs that of the connections its workers block on), so a command that used it
 * with Redis down would hang, after writing what it writes to PostgreSQL first.
 */
export async function requireRedis(url: string, timeoutMs = REDIS_CHECK_TIMEOUT_MS): Promise<void> {
  let socketError: unknown = null;
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  // connect() rejects with "Connection is closed."; the reason comes as an 'error' event.
  redis.on('error', (error: unknown) => {
    socketError ??= error;
  });
  let timer: NodeJS.Timeout | undefined;
  const attempt = redis.connect().then(() => redis.ping());
  attempt.catch(() => undefined); // a late failure after the deadline is no unhandled rejection
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
  });
  try {
    await Promise.race([attempt, deadline]);
  } catch (error) {
    throw redisProblem(socketError ?? error, url);
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}

/**
 * Resolves once PostgreSQL at `url` accepts a connection to its database and that database holds
 * Flywheel's tables; otherwise throws the one-line error (`unavailable`, or `conflict` for a
 * database not migrated). For the servers (`web`, `standalone`): they refuse to start rather than
 * serve `internal error` for every request.
 */
export async function requireDatabase(url: string, timeoutMs = DATABASE_CHECK_TIMEOUT_MS): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, application_name: 'flywheel' });
  client.on('error', () => undefined); // the failing call rejects with it
  try {
    await client.connect();
    // Unqualified, as the queries name it: resolved through the connection's search_path.
    const { rows } = await client.query<{ migrated: boolean }>("select to_regclass('dag_run') is not null as migrated");
    if (!rows[0]?.migrated) throw notMigrated(url);
  } catch (error) {
    throw databaseProblem(error, url) ?? error;
  } finally {
    await client.end().catch(() => undefined);
  }
}
