import { EventEmitter } from 'node:events';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { isConnectionError } from '../db/connection-errors.ts';
import { appendLogLines } from '../db/queries/task-logs.ts';
import { inTransaction, lockDags } from '../db/transaction.ts';
import type { QueueExecutor } from '../executor/executor.ts';
import { ensurePoolSlots } from '../executor/pool-slots.ts';
import type { Logger } from '../logger.ts';
import type { DagBag } from '../loader/dag-bag.ts';
import { advanceRuns } from '../state/advance.ts';
import { queuedTaskFromRow, type QueuedTask } from '../state/queued-task.ts';
import { startQueuedRuns } from '../state/run-start.ts';
import { retryDelayMs } from '../state/run-state.ts';
import { finishTries, type TryOutcome } from '../state/task-tries.ts';
import { insertDagRun } from './dag-runs.ts';
import { recordDagFolder, upsertDags } from './dag-sync.ts';

export interface SchedulerOptions {
  db: Database;
  dags: DagBag;
  executor: QueueExecutor;
  logger: Logger;
  /** Period of the safety-net loop. */
  intervalMs: number;
  /** A running try without a heartbeat for this long is failed (or retried). */
  zombieThresholdMs: number;
  /** How often the DAGs folder is re-read. */
  dagRefreshMs: number;
  /**
   * A task `queued` this long without a live BullMQ job is enqueued again.
   * @defaultValue 10000
   */
  requeueAfterMs?: number;
  /**
   * Only these runs (used by `dags test`, which must not touch other runs); all when unset.
   * @defaultValue undefined
   */
  onlyDagRunIds?: readonly number[];
  /**
   * Create runs from schedules. Off for `dags test`.
   * @defaultValue true
   */
  createScheduledRuns?: boolean;
  /**
   * How often each pool's slot limit is checked on its BullMQ queue (one Redis read per pool) and
   * applied again if Redis lost it; also at once after each Redis reconnect. Not by a scheduler
   * scoped to `onlyDagRunIds`.
   * @defaultValue 5000
   */
  poolCheckMs?: number;
}

export interface SchedulerEvents {
  runFinished: [run: { dagRunId: number; dagId: string; runId: string; state: string }];
  tick: [];
}

/**
 * The scheduler's loop: reads the DAGs folder, creates scheduled runs, starts queued runs,
 * moves running runs forward, re-queues due retries, reaps zombies and re-sends lost jobs.
 * Task completions already move runs forward (event driven); this loop is the safety net.
 * Several schedulers can run at once: each DAG is worked on under its row lock, and a
 * scheduler skips DAGs another one holds.
 */
export class Scheduler extends EventEmitter<SchedulerEvents> {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private lastDagSync = 0;
  private lastRequeueCheck = 0;
  private lastPoolCheck = 0;
  /** Set by a Redis reconnect: check the pools' slot limits on the next pass. */
  private poolCheckDue = true;
  private stopReconnectWatch: (() => void) | null = null;
  /** No zombie is reaped before this time (ms): the workers' heartbeats had no database either. */
  private reapNotBefore = 0;

  constructor(private readonly options: SchedulerOptions) {
    super();
  }

  start(): this {
    this.stopped = false;
    if (!this.options.onlyDagRunIds) {
      this.stopReconnectWatch = this.options.executor.onReconnect(() => {
        this.poolCheckDue = true;
      });
    }
    const loop = async () => {
      if (this.stopped) return;
      this.running = this.tick().catch((error) => this.options.logger.error({ err: error }, 'scheduler tick failed'));
      await this.running;
      this.running = null;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.options.intervalMs);
    };
    void loop();
    this.options.logger.info({ intervalMs: this.options.intervalMs }, 'scheduler started');
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopReconnectWatch?.();
    this.stopReconnectWatch = null;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass of the loop. */
  async tick(): Promise<void> {
    try {
      const now = Date.now();
      if (now - this.lastDagSync >= this.options.dagRefreshMs) {
        await this.syncDags();
        this.lastDagSync = now;
      }
      if (!this.options.onlyDagRunIds && (this.poolCheckDue || now - this.lastPoolCheck >= (this.options.poolCheckMs ?? 5000))) {
        await this.checkPoolSlots();
        this.lastPoolCheck = now;
      }
      if (this.options.createScheduledRuns !== false && !this.options.onlyDagRunIds) await this.createScheduledRuns();
      await this.startQueuedRuns();
      await this.advanceRunningRuns();
      await this.reapZombies();
      if (now - this.lastRequeueCheck >= (this.options.requeueAfterMs ?? 10_000) / 2) {
        await this.requeueLostTasks();
        this.lastRequeueCheck = now;
      }
    } catch (error) {
      // PostgreSQL is unreachable from here, so very likely from the workers too: their heartbeats
      // fail meanwhile, and every running try would look like a zombie the moment it is back. The
      // workers get one zombie threshold after the last failure to heartbeat (and record the tries
      // that finished during the outage) before anything is reaped.
      if (isConnectionError(error)) this.reapNotBefore = Date.now() + this.options.zombieThresholdMs;
      throw error;
    }
    this.emit('tick');
  }

  /**
   * Applies each pool's slot limit to its queue again where Redis lost it (restarted without
   * persistence, flushed) or holds another value.
   */
  async checkPoolSlots(): Promise<void> {
    this.poolCheckDue = false;
    try {
      const fixed = await ensurePoolSlots(this.options.db, this.options.executor);
      for (const pool of fixed) this.options.logger.warn(pool, `pool "${pool.name}": its queue's slot limit was ${pool.was ?? 'missing'}; applied ${pool.slots} again`);
    } catch (error) {
      // Try again on the next pass. Without PostgreSQL the pass fails as a whole; without Redis,
      // the rest of it can still go on.
      this.poolCheckDue = true;
      if (isConnectionError(error)) throw error;
      this.options.logger.warn({ err: error }, 'checking the pools\' slot limits failed; will retry');
    }
  }

  /** Re-reads the DAGs folder into the `dag` table and the import errors. */
  async syncDags(): Promise<void> {
    const bag = await this.options.dags.load();
    if (this.options.onlyDagRunIds) return;
    const loaded = bag.list();
    for (const error of bag.errors) this.options.logger.warn({ file: error.file }, `DAG import error: ${error.message}`);
    await inTransaction(this.options.db, async (tx) => {
      await upsertDags(tx, loaded);
      await recordDagFolder(tx, loaded.map((d) => d.dagId), bag.errors);
    });
  }

  /** Restricts a query on a table with a run id column to the scoped runs. */
  private runFilter(column: 'id' | 'dag_run_id' | 'ti.dag_run_id') {
    const ids = this.options.onlyDagRunIds;
    return ids ? sql`and ${sql.raw(column)} = any(${sql.param([...ids])}::bigint[])` : sql``;
  }

  private get scope() {
    return this.options.onlyDagRunIds ? { onlyDagRunIds: this.options.onlyDagRunIds } : {};
  }

  /** Creates the runs whose data interval has ended, up to each DAG's `maxActiveRuns`. */
  async createScheduledRuns(): Promise<void> {
    const { db, dags } = this.options;
    const created = await inTransaction(db, async (tx) => {
      const due = await tx.execute<{ dag_id: string; next_dagrun: Date | null; active: number }>(sql`
        select d.dag_id, d.next_dagrun,
               (select count(*) from dag_run r where r.dag_id = d.dag_id and r.state in ('queued', 'running')) as active
        from dag d
        where d.is_active and not d.is_paused and d.schedule is not null
          and (d.next_dagrun_create_after is null or d.next_dagrun_create_after <= now())
        for update skip locked
      `);
      const createdDagIds: string[] = [];
      const now = new Date();
      for (const row of due.rows) {
        const dag = dags.get(row.dag_id);
        if (!dag?.timetable || !dag.startDate) continue;
        const timetable = dag.timetable;
        let next = row.next_dagrun ? new Date(row.next_dagrun) : null;
        if (!next) {
          const last = await tx.execute<{ logical_date: Date | null }>(
            sql`select max(logical_date) as logical_date from dag_run where dag_id = ${dag.dagId} and run_type = 'scheduled'`,
          );
          const lastDate = last.rows[0]?.logical_date;
          next = timetable.nextLogicalDate({ last: lastDate ? new Date(lastDate) : null, startDate: dag.startDate, catchup: dag.catchup, now });
        }
        let active = Number(row.active);
        while (active < dag.maxActiveRuns) {
          if (dag.endDate && next.getTime() > dag.endDate.getTime()) break;
          const interval = timetable.intervalFor(next);
          if (interval.end.getTime() > now.getTime()) break;
          const inserted = await insertDagRun(tx, { dagId: dag.dagId, runType: 'scheduled', logicalDate: next, dataInterval: interval, triggeredBy: 'scheduler' });
          if (inserted) active += 1;
          next = timetable.nextLogicalDate({ last: next, startDate: dag.startDate, catchup: dag.catchup, now });
          createdDagIds.push(dag.dagId);
        }
        const finished = dag.endDate !== null && next.getTime() > dag.endDate.getTime();
        await tx.execute(sql`
          update dag set next_dagrun = ${finished ? null : next.toISOString()},
            next_dagrun_create_after = ${finished ? 'infinity' : timetable.intervalFor(next).end.toISOString()}
          where dag_id = ${dag.dagId}
        `);
      }
      return createdDagIds;
    });
    if (created.length > 0) this.options.logger.debug({ dags: [...new Set(created)] }, 'created scheduled runs');
  }

  async startQueuedRuns(): Promise<void> {
    const { db } = this.options;
    const pending = await db.execute<{ dag_id: string }>(sql`select distinct dag_id from dag_run where state = 'queued' ${this.runFilter('id')}`);
    if (pending.rows.length === 0) return;
    if (this.options.onlyDagRunIds) return; // a scoped scheduler's run was started by its creator
    const queued = await inTransaction(db, (tx) => startQueuedRuns(tx, this.options.dags, pending.rows.map((r) => r.dag_id), { skipLocked: true }));
    await this.enqueue(queued);
  }

  /** Re-evaluates every running run: catches what an event-driven step missed, and queues due retries. */
  async advanceRunningRuns(): Promise<void> {
    const { db, dags } = this.options;
    const active = await db.execute<{ dag_id: string }>(sql`select distinct dag_id from dag_run where state = 'running' ${this.runFilter('id')}`);
    if (active.rows.length === 0) return;
    const result = await inTransaction(db, async (tx) => {
      const locked = await lockDags(tx, active.rows.map((r) => r.dag_id), { skipLocked: true });
      const runs = await tx.execute<{ id: number }>(
        sql`select id from dag_run where state = 'running' and dag_id = any(${sql.param(locked)}::text[]) ${this.runFilter('id')}`,
      );
      return advanceRuns(tx, dags, runs.rows.map((r) => r.id), this.scope);
    });
    await this.enqueue(result.queued);
    for (const run of result.finishedRuns) this.emit('runFinished', run);
  }

  /** Fails (or retries) running tries whose worker stopped heartbeating: killed, hung or partitioned. */
  async reapZombies(): Promise<void> {
    const { db, dags, zombieThresholdMs } = this.options;
    if (Date.now() < this.reapNotBefore) return;
    const zombies = await db.execute<{ dag_run_id: number; dag_id: string; task_id: string; try_number: number; heartbeat_at: Date | null; hostname: string | null }>(sql`
      select dag_run_id, dag_id, task_id, try_number, heartbeat_at, hostname from task_instance
      where state = 'running' and coalesce(heartbeat_at, start_date) < now() - ${zombieThresholdMs} * interval '1 millisecond' ${this.runFilter('dag_run_id')}
      limit 1000
    `);
    if (zombies.rows.length === 0) return;
    const result = await inTransaction(db, async (tx) => {
      const locked = new Set(await lockDags(tx, zombies.rows.map((z) => z.dag_id), { skipLocked: true }));
      const outcomes: TryOutcome[] = zombies.rows
        .filter((z) => locked.has(z.dag_id))
        .map((z) => {
          const task = dags.get(z.dag_id)?.tasks.get(z.task_id);
          return {
            dagRunId: z.dag_run_id,
            dagId: z.dag_id,
            taskId: z.task_id,
            tryNumber: z.try_number,
            outcome: 'failed' as const,
            endDate: new Date(),
            output: null,
            error: `zombie: no heartbeat from ${z.hostname ?? 'its worker'} since ${z.heartbeat_at ? new Date(z.heartbeat_at).toISOString() : 'it started'}`,
            retryDelayMs: task ? retryDelayMs(task, z.try_number) : 0,
          };
        });
      const finished = await finishTries(tx, outcomes);
      await appendLogLines(
        tx,
        finished.map((f) => ({
          dagRunId: f.dagRunId,
          taskId: f.taskId,
          tryNumber: f.tryNumber,
          loggedAt: new Date(),
          level: 'error' as const,
          message: `${outcomes.find((o) => o.dagRunId === f.dagRunId && o.taskId === f.taskId)?.error}; marked ${f.state} by the scheduler`,
        })),
      );
      return { finished, advanced: await advanceRuns(tx, dags, finished.map((f) => f.dagRunId), this.scope) };
    });
    for (const f of result.finished) this.options.logger.warn({ dagRunId: f.dagRunId, taskId: f.taskId, tryNumber: f.tryNumber, state: f.state }, 'reaped zombie task');
    await this.enqueue(result.advanced.queued);
    for (const run of result.advanced.finishedRuns) this.emit('runFinished', run);
  }

  /** Re-sends tasks that are `queued` in PostgreSQL but have no live job in BullMQ. */
  async requeueLostTasks(): Promise<void> {
    const { db, executor } = this.options;
    const stale = await db.execute<{ dag_id: string; run_id: string; dag_run_id: number; task_id: string; try_number: number; pool: string; priority_weight: number; queue_prefix: string | null }>(sql`
      select ti.dag_id, ti.run_id, ti.dag_run_id, ti.task_id, ti.try_number, ti.pool, ti.priority_weight, r.queue_prefix
      from task_instance ti join dag_run r on r.id = ti.dag_run_id
      where ti.state = 'queued' and ti.queued_at < now() - ${this.options.requeueAfterMs ?? 10_000} * interval '1 millisecond' ${this.runFilter('ti.dag_run_id')}
      limit 1000
    `);
    for (const row of stale.rows) {
      const task = queuedTaskFromRow(row);
      if (await executor.ensureEnqueued(task)) this.options.logger.warn({ dagId: task.dagId, runId: task.runId, taskId: task.taskId, tryNumber: task.tryNumber }, 're-enqueued a lost task');
    }
  }

  private async enqueue(tasks: QueuedTask[]): Promise<void> {
    try {
      await this.options.executor.enqueue(tasks);
    } catch (error) {
      this.options.logger.warn({ err: error, count: tasks.length }, 'enqueue failed; will retry');
    }
  }
}
