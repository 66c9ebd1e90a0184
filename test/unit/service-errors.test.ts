/**
 * The one line the CLI prints for a PostgreSQL or Redis it cannot use, for the shapes those
 * failures take: drizzle's `Failed query` around the pg error, an AggregateError of a host with
 * several addresses, a refused login (the integration tests' server trusts every login).
 */
import { describe, expect, it } from 'vitest';
import { databaseProblem, explainFailure, listenProblem, redisProblem } from '../../core/service-errors.ts';

const DATABASE_URL = 'postgres://flywheel:hunter2-secret@db.internal:6543/flywheel_prod';
const REDIS_URL = 'redis://:another-secret@cache.internal:6380';

/** An error as node-postgres or Node's net module makes one. */
function errorWith(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

/** drizzle's wrapper: the SQL and its parameters in the message, the real error as `cause`. */
function failedQuery(cause: unknown): Error {
  return new Error('Failed query: select "id", "secret_column" from "dag_run" where "dag_id" = $1\nparams: chain', { cause });
}

describe('databaseProblem', () => {
  it('says which server refused, unwrapping drizzle, in one line without the SQL or the password', () => {
    const refused = errorWith('connect ECONNREFUSED 10.0.0.5:6543', { code: 'ECONNREFUSED', address: '10.0.0.5', port: 6543 });
    const problem = databaseProblem(failedQuery(refused), DATABASE_URL);
    expect(problem).toMatchObject({ kind: 'unavailable', exitCode: 1, status: 503 });
    expect(problem!.message).toBe('cannot connect to PostgreSQL at db.internal:6543: connection refused (ECONNREFUSED)');
    expect(problem!.cause).toBeDefined();
  });

  it('names a database that does not exist and the command that creates it', () => {
    const missing = errorWith('database "flywheel_prod" does not exist', { code: '3D000' });
    expect(databaseProblem(failedQuery(missing), DATABASE_URL)?.message).toBe('database "flywheel_prod" does not exist on db.internal:6543; create it with `flywheel db migrate`');
  });

  it('passes on the server’s reason for a refused login, which names the user and not the password', () => {
    const auth = errorWith('password authentication failed for user "flywheel"', { code: '28P01' });
    const problem = databaseProblem(auth, DATABASE_URL);
    expect(problem?.message).toBe('cannot connect to PostgreSQL at db.internal:6543: password authentication failed for user "flywheel" (28P01)');
    expect(problem?.message).not.toContain('hunter2');
  });

  it('reads the socket errors of every address of a host (AggregateError)', () => {
    const refused = (address: string) => errorWith(`connect ECONNREFUSED ${address}:6543`, { code: 'ECONNREFUSED', address, port: 6543 });
    const aggregate = new AggregateError([refused('::1'), refused('127.0.0.1')], '');
    expect(databaseProblem(aggregate, DATABASE_URL)?.message).toBe('cannot connect to PostgreSQL at db.internal:6543: connection refused (ECONNREFUSED)');
  });

  it('tells a database without Flywheel tables to migrate (exit 2), and leaves other errors alone', () => {
    const notMigrated = databaseProblem(failedQuery(errorWith('relation "dag_run" does not exist', { code: '42P01' })), DATABASE_URL);
    expect(notMigrated).toMatchObject({ kind: 'conflict', exitCode: 2 });
    expect(notMigrated!.message).toBe('the database "flywheel_prod" on db.internal:6543 has no Flywheel tables yet: run `flywheel db migrate` first');
    // A bug (a constraint) and another server's socket error are not PostgreSQL being unavailable.
    expect(databaseProblem(failedQuery(errorWith('duplicate key value', { code: '23505' })), DATABASE_URL)).toBeNull();
    expect(databaseProblem(errorWith('connect ECONNREFUSED 127.0.0.1:9999', { code: 'ECONNREFUSED', port: 9999 }), DATABASE_URL)).toBeNull();
    expect(databaseProblem(new TypeError('x is not a function'), DATABASE_URL)).toBeNull();
  });

  it('words a connection lost mid-command', () => {
    expect(databaseProblem(failedQuery(new Error('Connection terminated unexpectedly')), DATABASE_URL)?.message).toBe(
      'cannot connect to PostgreSQL at db.internal:6543: Connection terminated unexpectedly',
    );
  });
});

describe('explainFailure', () => {
  it('tells Redis’s socket errors from PostgreSQL’s by the port they were connecting to', () => {
    const urls = { databaseUrl: DATABASE_URL, redisUrl: REDIS_URL };
    const redis = explainFailure(errorWith('connect ECONNREFUSED 10.0.0.6:6380', { code: 'ECONNREFUSED', port: 6380 }), urls);
    expect(redis?.message).toBe('cannot connect to Redis at cache.internal:6380: connection refused (ECONNREFUSED)');
    const postgres = explainFailure(errorWith('connect ETIMEDOUT 10.0.0.5:6543', { code: 'ETIMEDOUT', port: 6543 }), urls);
    expect(postgres?.message).toBe('cannot connect to PostgreSQL at db.internal:6543: connection timed out (ETIMEDOUT)');
  });
});

describe('redisProblem and listenProblem', () => {
  it('say which server or port, and why', () => {
    expect(redisProblem(new Error('NOAUTH Authentication required.'), REDIS_URL).message).toBe('cannot connect to Redis at cache.internal:6380: NOAUTH Authentication required.');
    expect(redisProblem(errorWith('getaddrinfo ENOTFOUND nope', { code: 'ENOTFOUND' }), 'redis://nope').message).toBe('cannot connect to Redis at nope:6379: host not found (ENOTFOUND)');
    expect(listenProblem(errorWith('listen EADDRINUSE', { code: 'EADDRINUSE' }), 8080)?.message).toMatch(/^port 8080 is already in use \(EADDRINUSE\)/);
    expect(listenProblem(new Error('other'), 8080)).toBeNull();
  });
});
