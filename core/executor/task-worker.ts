import { EventEmitter } from 'node:events';
import os from 'node:os';
import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Database } from '../db/client.ts';
import { readOutputs } from '../db/queries/task-instances.ts';
import { appendLogLines, type LogLine } from '../db/queries/task-logs.ts';
import { inTransaction } from '../db/transaction.ts';
import type { Logger } from '../logger.ts';
import type { DagBag } from '../loader/dag-bag.ts';
import { TaskCancelledError } from '../sdk/errors.ts';
import { advanceRuns } from '../state/advance.ts';
import { retryDelayMs } from '../state/run-state.ts';
import { finishTries, heartbeatTries, startTries, type StartedTry, type TryOutcome } from '../state/task-tries.ts';
import type { QueueExecutor } from './executor.ts';
import { GroupCommit } from './group-commit.ts';
import { SecretRedactor } from './redact.ts';
import type { TaskJobData } from './task-job.ts';
import { TryLog } from './try-log.ts';
import { runTry, type TryResult } from './try-runner.ts';

export interface TaskWorkerOptions {
  /** The pool (BullMQ queue) this worker takes tasks from. */
  pool: string;
  /**
   * Tries run at once by this worker.
   * @defaultValue 1
   */
  concurrency?: number;
  connection: ConnectionOptions;
  /** BullMQ key prefix. */
  prefix: string;
  db: Database;
  dags: DagBag;
  /** Sends downstream tasks that became ready when a try finished. */
  executor: QueueExecutor;
  heartbeatMs: number;
  xcomMaxBytes: number;
  /** On close, how long running tries may finish before they are handed back. */
  shutdownGraceMs: number;
  logger: Logger;
  /** Queue downstream tasks of these runs only (a `dags test` process); all when unset. */
  onlyDagRunIds?: readonly number[];
  /**
   * BullMQ lock duration; sandboxed and async tasks never block its renewal.
   * @defaultValue 30000
   */
  lockDurationMs?: number;
}

export interface TaskWorkerEvents {
  /** A try finished and its outcome is committed. */
  tryFinished: [outcome: TryOutcome];
}

/** Marks the abort of a try whose worker is shutting down, so the try is handed back, not failed. */
class HandBack extends TaskCancelledError {
  constructor() {
    super('its worker is shutting down; the try is handed back');
  }
}

interface RunningTry {
  data: TaskJobData;
  cancel: AbortController;
  log: TryLog;
}

/**
 * Takes task-instance tries from one pool's queue and runs them: a compare-and-set
 * `queued` → `running`, the task (in process, or sandboxed), then one transaction that records
 * the outcome and queues the downstream tasks it made ready. Starts and finishes from many
 * concurrent tries are group-committed.
 */
export class TaskWorker extends EventEmitter<TaskWorkerEvents> {
  private worker: Worker<TaskJobData> | null = null;
  private readonly running = new Map<string, RunningTry>();
  private readonly redactor = new SecretRedactor();
  private readonly hostname = os.hostname();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private readonly starts: GroupCommit<TaskJobData & { startDate: Date }, StartedTry | null>;
  private readonly finishes: GroupCommit<TryOutcome & { logs: LogLine[] }, undefined>;

  constructor(private readonly options: TaskWorkerOptions) {
    super();
    this.starts = new GroupCommit(async (items) => {
      const started = await startTries(
        options.db,
        items.map((item) => ({ ...item, hostname: this.hostname, pid: process.pid })),
      );
      const byKey = new Map(started.map((s) => [tryKey(s), s]));
      return items.map((item) => byKey.get(tryKey(item)) ?? null);
    });
    this.finishes = new GroupCommit(async (items) => {
      const queued = await inTransaction(options.db, async (tx) => {
        const finished = await finishTries(tx, items, items.flatMap((item) => item.logs));
        const scope = options.onlyDagRunIds ? { onlyDagRunIds: options.onlyDagRunIds } : {};
        // Only the downstream tasks of these tries can have become ready: advance from them.
        const dagIdOf = new Map(items.map((item) => [item.dagRunId, item.dagId]));
        const hints = finished.map((f) => ({ dagRunId: f.dagRunId, dagId: dagIdOf.get(f.dagRunId)!, taskId: f.taskId, state: f.state }));
        return (await advanceRuns(tx, options.dags, finished.map((f) => f.dagRunId), scope, hints)).queued;
      }, { lockDags: items.map((item) => item.dagId) });
      try {
        await options.executor.enqueue(queued);
      } catch (error) {
        // Committed as queued: the scheduler re-enqueues tasks whose job never landed.
        options.logger.warn({ err: error, count: queued.length }, 'enqueue of downstream tasks failed; the scheduler will retry');
      }
      return items.map(() => undefined);
    });
  }

  /** Starts taking jobs. */
  start(): this {
    const { pool, connection, prefix } = this.options;
    this.worker = new Worker<TaskJobData>(pool, (job) => this.process(job), {
      connection,
      prefix,
      concurrency: this.options.concurrency ?? 1,
      lockDuration: this.options.lockDurationMs ?? 30_000,
      // A redelivered try is harmless: its compare-and-set start fails and it is skipped.
      maxStalledCount: 10,
      removeOnComplete: { count: 1000 },
      removeOnFail: { count: 10_000 },
    });
    this.worker.on('error', (error) => this.options.logger.error({ err: error }, 'worker error'));
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatMs);
    this.heartbeatTimer.unref();
    this.options.logger.info({ pool, concurrency: this.options.concurrency ?? 1 }, 'worker started');
    return this;
  }

  /** Tries running now. */
  get activeCount(): number {
    return this.running.size;
  }

  /**
   * Stops taking jobs and waits for running tries, up to the shutdown grace period; tries still
   * running then are stopped and handed back (they get their try back and are queued again).
   */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    const grace = setTimeout(() => {
      for (const entry of this.running.values()) entry.cancel.abort(new HandBack());
    }, this.options.shutdownGraceMs);
    try {
      // Tries still running keep heartbeating until they finish, or the scheduler would reap them.
      await worker.close();
      await this.finishes.idle();
    } finally {
      clearTimeout(grace);
      if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    }
  }

  private async process(job: Job<TaskJobData>): Promise<string> {
    const data = job.data;
    const startDate = new Date();
    const started = await this.starts.submit({ ...data, startDate });
    if (!started) return 'skipped: the try is no longer queued';
    const key = tryKey(data);
    const entry: RunningTry = { data, cancel: new AbortController(), log: new TryLog(this.redactor) };
    this.running.set(key, entry);
    entry.log.write('info', `starting try ${started.tryNumber} of ${started.maxTries} on ${this.hostname} (pid ${process.pid}, pool ${this.options.pool})`);
    let result: TryResult;
    let retryDelay = 0;
    try {
      const dag = await this.options.dags.require(data.dagId);
      const task = dag.task(data.taskId);
      retryDelay = retryDelayMs(task, started.tryNumber);
      result = await runTry({
        dag,
        task,
        runId: data.runId,
        tryNumber: started.tryNumber,
        maxTries: started.maxTries,
        logicalDate: started.logicalDate,
        dataInterval: { start: started.dataIntervalStart, end: started.dataIntervalEnd },
        conf: started.conf,
        log: entry.log,
        cancel: entry.cancel.signal,
        xcomMaxBytes: this.options.xcomMaxBytes,
        readUpstream: (taskIds) => readOutputs(this.options.db, data.dagRunId, taskIds),
      });
    } catch (error) {
      result = { outcome: 'failed', error: error instanceof Error ? error.message : String(error) };
    }
    const endDate = new Date();
    const handedBack = entry.cancel.signal.reason instanceof HandBack;
    if (result.outcome === 'failed') entry.log.write('error', result.error);
    entry.log.write('info', `try ${started.tryNumber} ${handedBack ? 'handed back' : result.outcome} after ${endDate.getTime() - startDate.getTime()} ms`);
    this.running.delete(key);
    const outcome: TryOutcome = {
      dagRunId: data.dagRunId,
      dagId: data.dagId,
      taskId: data.taskId,
      tryNumber: started.tryNumber,
      outcome: result.outcome,
      endDate,
      output: result.outcome === 'success' ? result.output : null,
      // Redacted like the log lines: the error is shown by `tasks list`, the API and the UI.
      error: result.outcome === 'failed' ? this.redactor.redact(result.error) : null,
      retryDelayMs: handedBack ? 0 : retryDelay,
      handedBack,
    };
    const logs = entry.log.drain().map((line) => ({ ...line, dagRunId: data.dagRunId, taskId: data.taskId, tryNumber: started.tryNumber }));
    await this.finishes.submit({ ...outcome, logs });
    this.emit('tryFinished', outcome);
    return result.outcome;
  }

  private async heartbeat(): Promise<void> {
    if (this.running.size === 0) return;
    const entries = [...this.running.values()];
    try {
      const alive = await heartbeatTries(this.options.db, entries.map((e) => e.data));
      const aliveKeys = new Set(alive.map(tryKey));
      for (const entry of entries) {
        if (!aliveKeys.has(tryKey(entry.data)) && this.running.has(tryKey(entry.data))) {
          entry.cancel.abort(new TaskCancelledError('the try is no longer running in the database (cleared, marked or reaped)'));
        }
      }
      const lines = entries.flatMap((e) =>
        e.log.drain().map((line) => ({ ...line, dagRunId: e.data.dagRunId, taskId: e.data.taskId, tryNumber: e.data.tryNumber })),
      );
      await appendLogLines(this.options.db, lines);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'heartbeat failed');
    }
  }
}

function tryKey(t: { dagRunId: number; taskId: string; tryNumber: number }): string {
  return `${t.dagRunId}\u0000${t.taskId}\u0000${t.tryNumber}`;
}
