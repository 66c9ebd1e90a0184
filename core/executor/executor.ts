import { Queue, type ConnectionOptions } from 'bullmq';
import { bullPriorityFor, jobIdFor, type QueuedTask, type TaskJobData } from './task-job.ts';

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

  queue(pool: string): Queue<TaskJobData> {
    let queue = this.queues.get(pool);
    if (!queue) {
      queue = new Queue<TaskJobData>(pool, { connection: this.options.connection, prefix: this.options.prefix });
      queue.on('error', () => {
        // Connection errors are retried by ioredis; the scheduler re-enqueues what did not land.
      });
      this.queues.set(pool, queue);
    }
    return queue;
  }

  /** Adds one job per queued task, grouped by pool. Idempotent: an existing job id is left alone. */
  async enqueue(tasks: readonly QueuedTask[]): Promise<void> {
    if (tasks.length === 0) return;
    const byPool = new Map<string, QueuedTask[]>();
    for (const task of tasks) {
      const list = byPool.get(task.pool) ?? [];
      list.push(task);
      byPool.set(task.pool, list);
    }
    await Promise.all(
      [...byPool].map(([pool, list]) =>
        this.queue(pool).addBulk(
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
    const queue = this.queue(task.pool);
    const existing = await queue.getJob(jobIdFor(task));
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return false;
      await existing.remove().catch(() => undefined);
    }
    await this.enqueue([task]);
    return true;
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
