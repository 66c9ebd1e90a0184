import { inspect } from 'node:util';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { insertAuditEntry, type AuditHook } from '../core/db/queries/audit-log.ts';
import { cliActor, jsonOption, print, table } from './support.ts';
import { loadConfig, redactUrl, type FlywheelConfig } from '../core/config.ts';
import { runDagTest } from './dag-test.ts';
import { getDagRun, listDagRuns } from '../core/db/queries/dag-runs.ts';
import { getDag, listDags, setDagPaused } from '../core/db/queries/dags.ts';
import { listTaskInstances, listTaskTries, getTaskInstance } from '../core/db/queries/task-instances.ts';
import { readLogLines } from '../core/db/queries/task-logs.ts';
import { migrateDatabase } from '../core/db/migrate.ts';
import type { TaskWorker } from '../core/executor/task-worker.ts';
import { DagBag } from '../core/loader/dag-bag.ts';
import { applyPoolSlots, setPool } from '../core/pools.ts';
import { createRuntime, createScheduler, createTaskWorker, type Runtime } from '../core/runtime.ts';
import { FlywheelError } from '../core/errors.ts';
import { explainFailure, isNotMigrated, listenProblem, requireDatabase, requireRedis } from '../core/service-errors.ts';
import type { Logger } from '../core/logger.ts';
import { jsonInputProblem } from '../core/json-input.ts';
import { backfillDag, clearTasks, triggerDagRun } from '../core/scheduler/actions.ts';
import type { Scheduler } from '../core/scheduler/scheduler.ts';
import type { JsonObject } from '../core/sdk/json.ts';
import { closeWebApp, createWebApp, listen, webOptionsFromRuntime } from '../web/server.ts';
import { runPoolWorker, stopSignal } from '../workers/pool-worker.ts';
import { registerAuthCommands } from './commands/users.ts';
import { registerSourceCommands } from './commands/source.ts';
import { registerPicksCommands } from './commands/picks.ts';
import { registerModelCommands } from './commands/models.ts';
import { registerExperimentCommands } from './commands/experiments.ts';
import { registerSimulateCommands } from './commands/simulate.ts';
import { registerDagsCheckCommand } from './commands/dags-check.ts';
import { registerInitCommand } from './commands/init.ts';

/** The log of the long-running command this process runs (web, standalone, scheduler), once it has one. */
let processLogger: Logger | null = null;

/**
 * The process's policy for a promise rejection nothing handles: it is a bug (every background
 * loop handles its own errors: the picks reader's reloads, the impression log's flushes, the
 * session store's pruning), and the process's state after one is unknown, so it ends as Node's
 * default would (exit 1) — after saying so on its log, where a supervisor restarts it.
 */
process.on('unhandledRejection', (reason) => {
  if (processLogger) processLogger.fatal({ err: reason }, 'unhandled promise rejection (a bug); exiting');
  else process.stderr.write(`error: unhandled promise rejection (a bug); exiting\n${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`);
  process.exit(1);
});

const program = new Command('flywheel')
  .description('Airflow-style DAG orchestrator: typed DAGs in TypeScript, PostgreSQL state, BullMQ worker pools')
  .showHelpAfterError()
  // Commander's own usage errors throw (subcommands added below inherit this) and exit 2 below.
  .exitOverride();

function config(): FlywheelConfig {
  return loadConfig();
}

/** The servers a failure may be about, for its one line (from the environment even when the config is invalid). */
function serviceUrls(): { databaseUrl: string; redisUrl: string } {
  try {
    const c = loadConfig();
    return { databaseUrl: c.databaseUrl, redisUrl: c.redisUrl };
  } catch {
    return { databaseUrl: process.env.DATABASE_URL ?? '', redisUrl: process.env.REDIS_URL ?? '' };
  }
}

/** Whether the operator asked for detail (FLYWHEEL_LOG_LEVEL debug or trace): then a one-line error also shows what it explains. */
function debugging(): boolean {
  return ['debug', 'trace'].includes(process.env.FLYWHEEL_LOG_LEVEL ?? '');
}

function parseConf(value: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new InvalidArgumentError(`not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object');
  // Before anything recursive sees it (a deep conf overflows the stack, an uncaught RangeError),
  // and without echoing the value, as InvalidArgumentError would: it may be thousands of characters.
  const problem = jsonInputProblem(parsed, '--conf');
  if (problem) throw new FlywheelError('invalid', problem);
  return parsed as JsonObject;
}

function parseDate(value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError(`"${value}" is not an ISO 8601 date`);
  return date;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  return n;
}

/** An audit hook for a CLI write, recorded in the action's own transaction. */
function cliAudit(action: string, target: { dagId?: string; runId?: string; taskId?: string; target?: string }): AuditHook {
  return (tx, outcome) => insertAuditEntry(tx, { actor: cliActor(), userId: null, auth: 'cli', action, ...target, details: outcome });
}

/**
 * Runs `work` with a runtime, closing it after. `redis: true` for a command that uses Redis (it
 * enqueues, or sets a queue's limits): Redis must answer first, before anything is written to
 * PostgreSQL, or the command would write and then hang on the runtime's connection, which
 * retries forever. A command without it connects to Redis only if it ever uses it.
 */
async function withRuntime<T>(name: string, work: (runtime: Runtime) => Promise<T>, options: { redis?: boolean } = {}): Promise<T> {
  const c = config();
  if (options.redis) await requireRedis(c.redisUrl);
  const runtime = createRuntime(c, { name, lazyRedis: !options.redis });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

async function requireRun(runtime: Runtime, dagId: string, runId: string) {
  const run = await getDagRun(runtime.db, dagId, runId);
  if (!run) throw new FlywheelError('not_found', `DAG "${dagId}" has no run "${runId}"`);
  return run;
}

/**
 * Refuses a DAG id that neither the database nor the DAGs folder knows, so that a read of a
 * typo fails instead of showing an empty list: require's `not_found` names the folder (and the
 * import error of a file that mentions the DAG).
 */
async function requireKnownDag(runtime: Runtime, dagId: string): Promise<void> {
  if (await getDag(runtime.db, dagId)) return;
  await runtime.dags.require(dagId);
}

function startScheduler(runtime: Runtime): Scheduler {
  return createScheduler(runtime).start();
}

function startWorker(runtime: Runtime, pool: string, concurrency: number): TaskWorker {
  return createTaskWorker(runtime, { pool, concurrency }).start();
}

/** Listens on `port`, or fails with one line naming it (in use, not allowed). */
async function listenOn(app: ReturnType<typeof createWebApp>, port: number): Promise<Awaited<ReturnType<typeof listen>>> {
  try {
    return await listen(app, port);
  } catch (error) {
    throw listenProblem(error, port) ?? error;
  }
}

const db = program.command('db').description('database');
db.command('migrate')
  .description('create the database if missing and apply pending migrations')
  .addOption(jsonOption())
  .action(async (options: { json?: boolean }) => {
    const c = config();
    // The one command that creates the database: any other refuses a missing one (a typo in DATABASE_URL).
    const result = await migrateDatabase(c.databaseUrl, { createDatabase: true });
    print(Boolean(options.json), { database: redactUrl(c.databaseUrl), ...result }, () =>
      `${result.created ? 'created and migrated' : 'migrated'} ${redactUrl(c.databaseUrl)}`,
    );
  });

program
  .command('scheduler')
  .description('run the scheduler loop (several may run at once)')
  .action(async () => {
    const c = config();
    await requireRedis(c.redisUrl);
    const runtime = createRuntime(c, { name: 'scheduler' });
    processLogger = runtime.logger;
    await applyPoolSlots(runtime.db, runtime.executor);
    const scheduler = startScheduler(runtime);
    const signal = await stopSignal();
    runtime.logger.info({ signal }, 'scheduler stopping');
    await scheduler.stop();
    await runtime.close();
  });

program
  .command('worker')
  .description('run tasks from one pool')
  .requiredOption('--pool <pool>', 'pool (queue) to take tasks from')
  .option('--concurrency <n>', 'tries run at once', parsePositiveInt, 1)
  .action(async (options: { pool: string; concurrency: number }) => {
    const c = config();
    await requireRedis(c.redisUrl);
    await runPoolWorker({ pool: options.pool, concurrency: options.concurrency, config: c });
    // A try handed back at the end of the grace period may still be running in this process if it
    // ignores ctx.signal; exiting stops it (its next try may already run elsewhere).
    process.exit(0);
  });

program
  .command('web')
  .description('serve the REST API and UI')
  .option('--port <n>', 'port', parsePositiveInt)
  .action(async (options: { port?: number }) => {
    const c = config();
    const port = options.port ?? c.webPort;
    // A web server on a database that is missing or not migrated would start and answer every
    // request `internal error`; it refuses to start instead, naming the database. (It does not
    // need Redis to start: it serves picks without their cache, and /health reports Redis.)
    await requireDatabase(c.databaseUrl);
    const runtime = createRuntime(c, { name: 'web' });
    processLogger = runtime.logger;
    const app = createWebApp(webOptionsFromRuntime(runtime));
    let server: Awaited<ReturnType<typeof listen>>;
    try {
      server = await listenOn(app, port);
    } catch (error) {
      // The caller prints the one line and sets the exit code; the process must then exit, even
      // if a handle the app opened would keep it alive, serving nothing.
      setTimeout(() => process.exit(), 5000).unref();
      await closeWebApp(app).catch(() => undefined);
      await runtime.close().catch(() => undefined);
      throw error;
    }
    runtime.logger.info({ port }, `web listening on http://localhost:${port}`);
    await stopSignal();
    server.close();
    await closeWebApp(app); // the impressions still buffered
    await runtime.close();
  });

program
  .command('standalone')
  .description('scheduler + a worker per pool + web in one process')
  .option('--port <n>', 'web port', parsePositiveInt)
  .option('--concurrency <n>', 'tries at once per CPU pool', parsePositiveInt, 8)
  .action(async (options: { port?: number; concurrency: number }) => {
    const c = config();
    // Both before anything starts: Redis answers, the database exists (and is migrated by it).
    await requireRedis(c.redisUrl);
    await migrateDatabase(c.databaseUrl);
    const runtime = createRuntime(c, { name: 'standalone' });
    processLogger = runtime.logger;
    const port = options.port ?? c.webPort;
    let app: ReturnType<typeof createWebApp> | null = null;
    let server: Awaited<ReturnType<typeof listen>> | null = null;
    let scheduler: Scheduler | null = null;
    let workers: TaskWorker[] = [];
    let failed = false;
    try {
      const pools = await applyPoolSlots(runtime.db, runtime.executor);
      app = createWebApp(webOptionsFromRuntime(runtime));
      // The port first: a standalone that cannot serve its UI (the port is taken) fails before it
      // runs a task, rather than scheduling and running tries with no UI.
      server = await listenOn(app, port);
      scheduler = startScheduler(runtime);
      workers = pools.map((pool) => startWorker(runtime, pool.name, pool.name === 'gpu' ? 1 : options.concurrency));
      runtime.logger.info({ port, pools: pools.map((p) => p.name) }, `standalone: web on http://localhost:${port}`);
      await stopSignal();
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      // On a failure the caller prints the error and sets the exit code; the process must then
      // exit, even if a handle would keep it alive (running on without a UI). Exiting also kills
      // any sandboxed child (core/executor/try-runner.ts).
      if (failed) setTimeout(() => process.exit(), c.shutdownGraceMs + 5000).unref();
      // Every way out stops everything; tries still running past the grace period are handed back.
      server?.close();
      if (app) await closeWebApp(app).catch(() => undefined);
      await scheduler?.stop();
      await Promise.all(workers.map((w) => w.close()));
      await runtime.close();
    }
    process.exit(0); // as `worker`: do not wait for handed-back tries that ignore ctx.signal
  });

const dags = program.command('dags').description('DAGs');
registerDagsCheckCommand(dags);
dags
  .command('list')
  .description('DAGs in the DAGs folder, with their state and any import errors')
  .addOption(jsonOption())
  .action(async (options: { json?: boolean }) => {
    const c = config();
    const bag = await new DagBag({ folder: c.dagsFolder }).load();
    const stored = await withRuntime('cli', (runtime) =>
      // A database not migrated yet has stored nothing: the folder's DAGs with their defaults. One
      // that cannot be reached (or a mistyped name) is an error, not "nothing stored".
      listDags(runtime.db, { includeInactive: true }).catch((error: unknown) => {
        if (isNotMigrated(error)) return [];
        throw error;
      }),
    );
    const byId = new Map(stored.map((row) => [row.dagId, row]));
    const rows = bag.list().map((dag) => ({
      dagId: dag.dagId,
      schedule: dag.schedule,
      timezone: dag.timezone,
      isPaused: byId.get(dag.dagId)?.isPaused ?? dag.isPausedUponCreation,
      nextDagrun: byId.get(dag.dagId)?.nextDagrun?.toISOString() ?? null,
      tasks: dag.tasks.size,
      tags: [...dag.tags],
      fileloc: dag.fileloc,
    }));
    print(Boolean(options.json), { dags: rows, importErrors: bag.errors }, () =>
      [table(rows, ['dagId', 'schedule', 'timezone', 'isPaused', 'nextDagrun', 'tasks']), ...bag.errors.map((e) => `import error: ${e.message}`)].join('\n'),
    );
  });

dags
  .command('trigger <dagId>')
  .description('create a manual run')
  .option('--conf <json>', 'run conf (a JSON object)', parseConf)
  .option('--logical-date <iso>', 'logical date (default: now)', parseDate)
  .addOption(jsonOption())
  .action(async (dagId: string, options: { conf?: JsonObject; logicalDate?: Date; json?: boolean }) => {
    const result = await withRuntime('cli', async (runtime) => {
      await migrateDatabase(runtime.config.databaseUrl);
      return triggerDagRun(runtime, dagId, {
        ...(options.conf ? { conf: options.conf } : {}),
        ...(options.logicalDate ? { logicalDate: options.logicalDate } : {}),
        triggeredBy: cliActor(),
        audit: cliAudit('dag.trigger', { dagId }),
      });
    }, { redis: true });
    print(Boolean(options.json), { dagId, ...result }, () => `triggered ${dagId} run ${result.runId} (${result.state})`);
  });

dags
  .command('test <dagId>')
  .description('run one DAG run to the end in this process (own scheduler loop and workers)')
  .option('--conf <json>', 'run conf (a JSON object)', parseConf)
  .option('--logical-date <iso>', 'logical date (default: now); the run reads data as of its data interval end', parseDate)
  .addOption(jsonOption())
  .action(async (dagId: string, options: { conf?: JsonObject; logicalDate?: Date; json?: boolean }) => {
    const result = await runDagTest(config(), dagId, { ...(options.conf ? { conf: options.conf } : {}), ...(options.logicalDate ? { logicalDate: options.logicalDate } : {}) });
    print(Boolean(options.json), result, () =>
      [
        `${result.dagId} ${result.runId}: ${result.state} in ${(result.durationMs / 1000).toFixed(1)} s`,
        table(
          result.tasks.map((t) => ({ ...t, output: t.output === null ? '' : JSON.stringify(t.output).slice(0, 80), error: t.error?.split('\n')[0] ?? '' })),
          ['taskId', 'state', 'tryNumber', 'durationMs', 'output', 'error'],
        ),
      ].join('\n'),
    );
    process.exitCode = result.state === 'success' ? 0 : 1;
  });

dags
  .command('backfill <dagId>')
  .description('create runs for every scheduled interval with a logical date in [from, to]')
  .requiredOption('--from <iso>', 'first logical date', parseDate)
  .requiredOption('--to <iso>', 'last logical date', parseDate)
  .option('--conf <json>', 'run conf (a JSON object)', parseConf)
  .addOption(jsonOption())
  .action(async (dagId: string, options: { from: Date; to: Date; conf?: JsonObject; json?: boolean }) => {
    const runs = await withRuntime('cli', async (runtime) => {
      await migrateDatabase(runtime.config.databaseUrl);
      const created = await backfillDag(runtime, dagId, options.from, options.to, options.conf ? { conf: options.conf } : {});
      await cliAudit('dag.backfill', { dagId })(runtime.db, { from: options.from.toISOString(), to: options.to.toISOString(), created: created.filter((r) => r.created).length });
      return created;
    }, { redis: true });
    print(Boolean(options.json), { dagId, runs }, () =>
      `${runs.filter((r) => r.created).length} backfill runs created, ${runs.filter((r) => !r.created).length} already existed; the scheduler runs them\n${table(runs, ['runId', 'created'])}`,
    );
  });

for (const [name, paused] of [['pause', true], ['unpause', false]] as const) {
  dags
    .command(`${name} <dagId>`)
    .description(paused ? 'stop creating and starting runs' : 'resume scheduling')
    .addOption(jsonOption())
    .action(async (dagId: string, options: { json?: boolean }) => {
      const found = await withRuntime('cli', async (runtime) => {
        await runtime.dags.require(dagId).catch(() => undefined);
        const exists = await setDagPaused(runtime.db, dagId, paused);
        if (exists) await cliAudit(paused ? 'dag.pause' : 'dag.unpause', { dagId })(runtime.db, { isPaused: paused });
        return exists;
      });
      if (!found) throw new FlywheelError('not_found', `no DAG "${dagId}" in the database (has a scheduler or trigger seen it yet?)`);
      print(Boolean(options.json), { dagId, isPaused: paused }, () => `${dagId} ${paused ? 'paused' : 'unpaused'}`);
    });
}

const runs = program.command('runs').description('DAG runs');
runs
  .command('list <dagId>')
  .description('runs of a DAG, newest first')
  .option('--limit <n>', 'how many', parsePositiveInt, 25)
  .addOption(jsonOption())
  .action(async (dagId: string, options: { limit: number; json?: boolean }) => {
    const rows = await withRuntime('cli', async (runtime) => {
      const found = await listDagRuns(runtime.db, dagId, { limit: options.limit });
      // No runs: a known DAG that has none yet (an empty list), or a typo (not_found, exit 2).
      if (found.length === 0) await requireKnownDag(runtime, dagId);
      return found;
    });
    print(Boolean(options.json), { dagId, runs: rows }, () => table(rows, ['runId', 'runType', 'state', 'logicalDate', 'startDate', 'endDate']));
  });

const tasks = program.command('tasks').description('task instances');
tasks
  .command('list <dagId> <runId>')
  .description('task instances of a run')
  .addOption(jsonOption())
  .action(async (dagId: string, runId: string, options: { json?: boolean }) => {
    const rows = await withRuntime('cli', async (runtime) => listTaskInstances(runtime.db, (await requireRun(runtime, dagId, runId)).id));
    print(Boolean(options.json), { dagId, runId, taskInstances: rows }, () =>
      table(rows.map((r) => ({ ...r, error: r.error?.split('\n')[0] ?? '' })), ['taskId', 'state', 'tryNumber', 'maxTries', 'pool', 'startDate', 'durationMs', 'error']),
    );
  });

tasks
  .command('clear <dagId> <runId> <taskId>')
  .description('clear a task instance so it runs again')
  .option('--downstream', 'also clear every task downstream of it')
  .addOption(jsonOption())
  .action(async (dagId: string, runId: string, taskId: string, options: { downstream?: boolean; json?: boolean }) => {
    const cleared = await withRuntime('cli', (runtime) => clearTasks(runtime, dagId, runId, taskId, { downstream: Boolean(options.downstream), audit: cliAudit('task.clear', { dagId, runId, taskId }) }), { redis: true });
    print(Boolean(options.json), { dagId, runId, cleared }, () => `cleared ${cleared.join(', ')}`);
  });

tasks
  .command('logs <dagId> <runId> <taskId>')
  .description('log of one try (default: the latest)')
  .option('--try <n>', 'try number', parsePositiveInt)
  .addOption(jsonOption())
  .action(async (dagId: string, runId: string, taskId: string, options: { try?: number; json?: boolean }) => {
    const result = await withRuntime('cli', async (runtime) => {
      const run = await requireRun(runtime, dagId, runId);
      const instance = await getTaskInstance(runtime.db, run.id, taskId);
      if (!instance) throw new FlywheelError('not_found', `run "${runId}" has no task "${taskId}"`);
      const tryNumber = options.try ?? instance.tryNumber;
      if (tryNumber < 1 || tryNumber > instance.tryNumber) throw new FlywheelError('not_found', `task "${taskId}" has tries 1–${instance.tryNumber}, not ${tryNumber}`);
      const lines = await readLogLines(runtime.db, run.id, taskId, tryNumber);
      const tries = await listTaskTries(runtime.db, run.id, taskId);
      return { tryNumber, lines, tries: tries.length };
    });
    print(Boolean(options.json), { dagId, runId, taskId, tryNumber: result.tryNumber, lines: result.lines }, () =>
      result.lines.map((l) => `[${l.loggedAt.toISOString()}] ${l.level.toUpperCase().padEnd(5)} ${l.message}`).join('\n') || '(no log lines)',
    );
  });

const pools = program.command('pools').description('worker pools: a BullMQ queue plus a slot limit');
pools
  .command('list')
  .description('pools and their slots')
  .addOption(jsonOption())
  .action(async (options: { json?: boolean }) => {
    const rows = await withRuntime('cli', (runtime) => applyPoolSlots(runtime.db, runtime.executor), { redis: true });
    print(Boolean(options.json), { pools: rows }, () => table(rows, ['name', 'slots']));
  });
pools
  .command('set <name>')
  .description('create a pool or change its slots (tasks of the pool running at once, cluster-wide)')
  .requiredOption('--slots <n>', 'slot limit', parsePositiveInt)
  .option('--description <text>', 'what the pool is for')
  .addOption(jsonOption())
  .action(async (name: string, options: { slots: number; description?: string; json?: boolean }) => {
    await withRuntime('cli', async (runtime) => {
      await setPool(runtime.db, runtime.executor, { name, slots: options.slots, ...(options.description ? { description: options.description } : {}) });
      await cliAudit('pool.set', { target: name })(runtime.db, { slots: options.slots });
    }, { redis: true });
    print(Boolean(options.json), { name, slots: options.slots }, () => `pool ${name}: ${options.slots} slots`);
  });

registerSourceCommands(program);
registerPicksCommands(program);
registerModelCommands(program);
registerExperimentCommands(program);
registerSimulateCommands(program);
registerInitCommand(program);

registerAuthCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has printed its message (or the help / version). --help and --version exit 0;
    // a usage or validation error (unknown option, missing argument, invalid value) is bad input,
    // exit 2 like the rest; `.error()` called by a command keeps its own exit code.
    process.exitCode = error.exitCode === 0 ? 0 : error.code === 'commander.error' ? error.exitCode : 2;
  } else {
    const explained = explainFailure(error, serviceUrls());
    if (explained) {
      // A refusal (a ConfigError too), or PostgreSQL / Redis that could not be used (unreachable,
      // no such database, not migrated): one line, and its kind's exit code (`EXIT_CODE` in
      // core/errors.ts). What it explains (a driver's error, a SQL dump) only when debugging.
      process.stderr.write(`error: ${explained.message}\n`);
      if (explained.cause !== undefined && debugging()) process.stderr.write(`${inspect(explained.cause, { depth: 6 })}\n`);
      process.exitCode = explained.exitCode;
    } else {
      // A bug: the stack, whatever the log level.
      process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    }
  }
}
