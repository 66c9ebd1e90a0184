import { loadConfig, type FlywheelConfig } from '../core/config.ts';
import { createRuntime, createTaskWorker } from '../core/runtime.ts';

export interface PoolWorkerOptions {
  /** The pool (BullMQ queue) to take tries from. */
  pool: string;
  /**
   * Tries run at once in this process.
   * @defaultValue 1
   */
  concurrency?: number;
  /** @defaultValue loadConfig() — the environment */
  config?: FlywheelConfig;
  /**
   * Resolves when the worker should stop.
   * @defaultValue the first SIGTERM or SIGINT
   */
  stop?: Promise<string>;
}

/** Resolves with the name of the first SIGTERM or SIGINT this process gets. */
export function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

/**
 * A worker process for one pool: loads the DAGs, runs tries from the pool's queue until told to
 * stop, then finishes running tries within FLYWHEEL_SHUTDOWN_GRACE_MS and hands back the rest
 * (a new try that does not use up a retry). `flywheel worker` and the per-pool entry points
 * (`workers/default.ts`, `workers/gpu.ts`) run it.
 */
export async function runPoolWorker(options: PoolWorkerOptions): Promise<void> {
  const runtime = createRuntime(options.config ?? loadConfig(), { name: `worker-${options.pool}` });
  await runtime.dags.load();
  for (const error of runtime.dags.errors) runtime.logger.warn({ file: error.file }, `DAG import error: ${error.message}`);
  const worker = createTaskWorker(runtime, { pool: options.pool, concurrency: options.concurrency ?? 1 }).start();
  const signal = await (options.stop ?? stopSignal());
  runtime.logger.info({ signal, running: worker.activeCount }, 'worker stopping: finishing running tries');
  try {
    await worker.close();
  } finally {
    // Also when close fails: the open connections would keep the process running, taking no tries.
    await runtime.close();
  }
}

/** `FLYWHEEL_WORKER_CONCURRENCY`, or `fallback`. */
export function concurrencyFromEnv(fallback: number): number {
  const raw = process.env.FLYWHEEL_WORKER_CONCURRENCY;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FLYWHEEL_WORKER_CONCURRENCY: "${raw}" is not a positive integer`);
  return n;
}
