/**
 * Worker for the `gpu` pool (model training; the pool has 1 slot): one try at a time, so a
 * training run has the accelerator to itself.
 *   node --import ./core/loader/register.js workers/gpu.ts          (FLYWHEEL_WORKER_CONCURRENCY, default 1)
 */
import { concurrencyFromEnv, runPoolWorker } from './pool-worker.ts';

await runPoolWorker({ pool: 'gpu', concurrency: concurrencyFromEnv(1) });
process.exit(0);
