import { Queue, type ConnectionOptions } from 'bullmq';
import type { QueuedTask } from '../state/queued-task.ts';
import { bullPriorityFor, jobIdFor, type TaskJobData } from './task-job.ts';

export interface ExecutorOptions {
  connection: ConnectionOptions;
  /** BullMQ key prefix. */
  prefix: string;
  /**
   * Completed jobs kept per queue (PostgreSQL holds the history).
   * @defaultValue 1000
   */
  keepCompleted?: number;
}

/** The BullMQ side of the executor: one queue per pool, one job per task-instance try. */
export class QueueExecutor {
  private readonly queues = new Map<string, Queue<TaskJobData>>();

  constructor(private readonly options: ExecutorOptions) {}

  /** The queue of a pool, under this executor's prefix or a run's private one. */
  queue(pool: string, prefix: string = this.options.prefix): Queue<TaskJobData> {
    const key = `${prefix}\u0000${pool}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = new Queue<TaskJobData>(pool, { connection: this.options.connection, prefix });
      queue.on('error', () => {
        // Connection errors are retried by ioredis; the scheduler re-enqueues what did not land.
      });
      this.queues.set(key, queue);
    }
    return queue;
  }

  /** Adds one job per queued task, grouped by pool. Idempotent: an existing job id is left alone. */
  async enqueue(tasks: readonly QueuedTask[]): Promise<void> {
    if (tasks.length === 0) return;
    const byQueue = new Map<Queue<TaskJobData>, QueuedTask[]>();
    for (const task of tasks) {
      const queue = this.queue(task.pool, task.queuePrefix ?? undefined);
      const list = byQueue.get(queue) ?? [];
      list.push(task);
      byQueue.set(queue, list);
    }
    await Promise.all(
      [...byQueue].map(([queue, list]) =>
        queue.addBulk(
          list.map((task) => ({
            name: task.taskId,
            data: { dagId: task.dagId, runId: task.runId, dagRunId: task.dagRunId, taskId: task.taskId, tryNumber: task.tryNumber },
            opts: {
              jobId: jobIdFor(task),
              // The scheduler owns retries: BullMQ delivers each try once (at least once).
              attempts: 1,
              priority: bullPriorityFor(task.priorityWeight),
              removeOnComplete: { count: this.options.keepCompleted ?? 1000 },
              removeOnFail: { count: 10_000 },
            },
          })),
        ),
      ),
    );
  }

  /**
   * Re-adds the job of a task that is `queued` in PostgreSQL but has no live job (lost between
   * commit and enqueue, or failed by BullMQ's stalled check). Returns whether it re-added.
   */
  async ensureEnqueued(task: QueuedTask): Promise<boolean> {
    const queue = this.queue(task.pool, task.queuePrefix ?? undefined);
    const existing = await queue.getJob(jobIdFor(task));
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return false;
      await existing.remove().catch(() => undefined);
    }
    await this.enqueue([task]);
    return true;
  }

  /**
   * Calls `listener` each time this executor's Redis connection is (re)established, when it was
   * given one (an ioredis client, as the runtime does); returns the unsubscribe. A Redis that
   * restarts without persistence comes back empty: what lived only there (pool slot limits) must
   * be written again.
   */
  onReconnect(listener: () => void): () => void {
    const connection = this.options.connection as Partial<Pick<NodeJS.EventEmitter, 'on' | 'off'>>;
    if (typeof connection.on !== 'function' || typeof connection.off !== 'function') return () => undefined;
    connection.on('ready', listener);
    return () => connection.off?.('ready', listener);
  }

  /** Deletes every queue this executor opened, with all their jobs (private queues of `dags test`). */
  async obliterateAll(): Promise<void> {
    for (const queue of this.queues.values()) await queue.obliterate({ force: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    this.queues.clear();
  }
}
