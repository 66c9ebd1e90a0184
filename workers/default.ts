/**
 * Worker for the `default` pool: extract, heuristics, rows, publish and most tasks.
 *   node --import ./core/loader/register.js workers/default.ts      (FLYWHEEL_WORKER_CONCURRENCY, default 16)
 */
import { concurrencyFromEnv, runPoolWorker } from './pool-worker.ts';

await runPoolWorker({ pool: 'default', concurrency: concurrencyFromEnv(16) });
// A handed-back try that ignores ctx.signal may still run in this process: exiting stops it.
process.exit(0);
