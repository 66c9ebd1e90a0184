import { EventEmitter } from 'node:events';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Database } from '../db/client.ts';
import { isConnectionError } from '../db/connection-errors.ts';
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
  /**
   * Longest wait between attempts to record a finished try while PostgreSQL cannot be reached
   * (the wait doubles from 100 ms up to this). Kept near the heartbeat period, so the outcome is
   * recorded soon after the database is back, well before the try could pass for a zombie.
   * @defaultValue heartbeatMs
   */
  finishRetryMaxDelayMs?: number;
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
  /** The try is done and its outcome is being recorded: it still heartbeats, but is not cancelled. */
  finishing: boolean;
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
  /** Aborted when the shutdown grace period ends: outcomes not recorded by then are given up. */
  private readonly giveUp = new AbortController();
  private readonly starts: GroupCommit<TaskJobData & { startDate: Date }, StartedTry | null>;
  /** Resolves, per try, whether its outcome was recorded (false: the try was no longer running). */
  private readonly finishes: GroupCommit<TryOutcome & { logs: LogLine[] }, boolean>;

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
      const { queued, recorded } = await inTransaction(options.db, async (tx) => {
        const finished = await finishTries(tx, items, items.flatMap((item) => item.logs));
        const scope = options.onlyDagRunIds ? { onlyDagRunIds: options.onlyDagRunIds } : {};
        // Only the downstream tasks of these tries can have become ready: advance from them.
        const dagIdOf = new Map(items.map((item) => [item.dagRunId, item.dagId]));
        const hints = finished.map((f) => ({ dagRunId: f.dagRunId, dagId: dagIdOf.get(f.dagRunId)!, taskId: f.taskId, state: f.state }));
        const advanced = await advanceRuns(tx, options.dags, finished.map((f) => f.dagRunId), scope, hints);
        return { queued: advanced.queued, recorded: new Set(finished.map(tryKey)) };
      }, { lockDags: items.map((item) => item.dagId) });
      try {
        await options.executor.enqueue(queued);
      } catch (error) {
        // Committed as queued: the scheduler re-enqueues tasks whose job never landed.
        options.logger.warn({ err: error, count: queued.length }, 'enqueue of downstream tasks failed; the scheduler will retry');
      }
      return items.map((item) => recorded.has(tryKey(item)));
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
      for (const entry of this.running.values()) if (!entry.finishing) entry.cancel.abort(new HandBack());
      this.giveUp.abort();
    }, this.options.shutdownGraceMs);
    try {
      // Tries still running keep heartbeating until they finish, or the scheduler would reap them.
      await worker.close();
      await this.finishes.idle();
    } finally {
      clearTimeout(grace);
      if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
      // Normally none is left; after a failed close, a try still running (a sandboxed child) must
      // not run on with nobody to record it.
      for (const entry of this.running.values()) if (!entry.finishing) entry.cancel.abort(new HandBack());
    }
  }

  private async process(job: Job<TaskJobData>): Promise<string> {
    const data = job.data;
    const startDate = new Date();
    const started = await this.starts.submit({ ...data, startDate });
    if (!started) return 'skipped: the try is no longer queued';
    const key = tryKey(data);
    const entry: RunningTry = { data, cancel: new AbortController(), log: new TryLog(this.redactor), finishing: false };
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
    // Still in `running`, so still heartbeating, until its outcome is recorded: a commit that
    // fails (PostgreSQL down) is retried, and the try must not pass for a zombie meanwhile.
    entry.finishing = true;
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
    try {
      if (!(await this.recordFinish({ ...outcome, logs }))) {
        // Compare-and-set: the try was failed, cleared or marked meanwhile (reaped while its
        // worker could not reach PostgreSQL, say), and that stands.
        this.options.logger.warn(tryFields(outcome), 'the outcome of a try was not recorded: it is no longer running (reaped, cleared or marked meanwhile)');
        return `ignored: the try is no longer running (it ended ${result.outcome})`;
      }
    } finally {
      this.running.delete(key);
    }
    this.emit('tryFinished', outcome);
    return result.outcome;
  }

  /**
   * Records a finished try (its state, output or error, log lines) and queues what it made ready.
   * A commit that fails because PostgreSQL cannot be reached is retried with backoff until it
   * commits or the shutdown grace period ends; it is a compare-and-set on the running try, so an
   * attempt that committed although its reply was lost is not recorded twice. Any other error
   * is thrown: it would fail again. Returns whether the outcome was recorded.
   */
  private async recordFinish(item: TryOutcome & { logs: LogLine[] }): Promise<boolean> {
    const maxDelayMs = this.options.finishRetryMaxDelayMs ?? this.options.heartbeatMs;
    let delayMs = Math.min(100, maxDelayMs);
    for (let attempt = 1; ; attempt += 1) {
      try {
        const recorded = await this.finishes.submit(item);
        if (attempt > 1) this.options.logger.info({ ...tryFields(item), attempts: attempt }, 'recorded the outcome of a try once PostgreSQL was back');
        return recorded;
      } catch (error) {
        if (!isConnectionError(error)) {
          this.options.logger.error({ err: error, ...tryFields(item) }, 'could not record the outcome of a try; the scheduler will fail it as a zombie');
          throw error;
        }
        if (this.giveUp.signal.aborted) {
          this.options.logger.error({ err: error, ...tryFields(item), attempts: attempt }, 'gave up recording the outcome of a try at shutdown; the scheduler will fail it as a zombie');
          throw error;
        }
        this.options.logger.warn({ err: error, ...tryFields(item), attempt, retryInMs: delayMs }, 'could not record the outcome of a try (database unreachable); retrying');
        await sleep(delayMs, undefined, { signal: this.giveUp.signal }).catch(() => undefined);
        delayMs = Math.min(delayMs * 2, maxDelayMs);
      }
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.running.size === 0) return;
    const entries = [...this.running.values()];
    try {
      const alive = await heartbeatTries(this.options.db, entries.map((e) => e.data));
      const aliveKeys = new Set(alive.map(tryKey));
      for (const entry of entries) {
        if (!entry.finishing && !aliveKeys.has(tryKey(entry.data)) && this.running.has(tryKey(entry.data))) {
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

/** A try's identity and outcome, for the process log. */
function tryFields(o: TryOutcome): Record<string, unknown> {
  return { dagId: o.dagId, dagRunId: o.dagRunId, taskId: o.taskId, tryNumber: o.tryNumber, outcome: o.handedBack ? 'handed back' : o.outcome };
}
