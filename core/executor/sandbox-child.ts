/**
 * Entry point of a sandboxed try: a child process that loads the DAG file, runs one task and
 * reports log lines and the result over IPC. CPU-bound work here cannot stall the worker.
 */
import { Worker } from 'node:worker_threads';
import { importDagFile } from '../loader/dag-bag.ts';
import type { TaskLogger } from '../sdk/task.ts';
import type { SandboxChildMessage, SandboxRunMessage } from './sandbox-protocol.ts';
import { createTaskContext } from './task-context.ts';

/**
 * A watchdog thread: it has an event loop of its own, so it runs while the task's body spins the
 * CPU without yielding (which is what sandboxing is for) and the main thread sees no event. It
 * kills the whole process once the process is no longer its worker's child (the worker died and
 * the child was re-parented to init or a subreaper). Plain CommonJS, evaluated without the tsx
 * loader: it must start in milliseconds.
 */
const WATCHDOG = `
const { workerData } = require('node:worker_threads');
const check = () => { if (process.ppid !== workerData.parentPid) process.kill(process.pid, 'SIGKILL'); };
check();
setInterval(check, workerData.intervalMs);
`;

/** How often the watchdog looks at the parent pid: one getppid() call. */
const WATCHDOG_INTERVAL_MS = 250;

/**
 * Dies with the worker that forked it. A sandboxed child that outlived its worker (SIGKILLed,
 * OOM-killed) ran on after the scheduler had failed or retried its try: a second model version
 * registered, a publish finished under a failed try. Nothing may do the try's work then.
 */
function dieWithParent(parentPid: number): void {
  // The IPC channel closes when the parent dies, however it dies (SIGKILL too).
  process.on('disconnect', () => process.exit(1));
  if (!process.connected) process.exit(1);
  // The worker passes its pid: a parent that died before this line ran is seen as well.
  if (!Number.isInteger(parentPid) || parentPid <= 0) return;
  const watchdog = new Worker(WATCHDOG, { eval: true, execArgv: [], workerData: { parentPid, intervalMs: WATCHDOG_INTERVAL_MS } });
  watchdog.on('error', () => {
    // Only the 'disconnect' exit above remains; the try itself is unaffected.
  });
  // It must not keep the process alive once the try is done.
  watchdog.unref();
}

dieWithParent(Number(process.argv[2]));

function send(message: SandboxChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, undefined, {}, () => resolve()));
}

process.once('message', (raw: unknown) => {
  void (async () => {
    const message = raw as SandboxRunMessage;
    try {
      const dag = await importDagFile(message.file);
      const definition = dag.task(message.taskId);
      const emit = (level: 'info' | 'warn' | 'error') => (text: string) => void send({ type: 'log', level, message: String(text), at: new Date().toISOString() });
      const log = emit('info') as TaskLogger;
      log.info = emit('info');
      log.warn = emit('warn');
      log.error = emit('error');
      const ctx = createTaskContext({
        dagId: message.dagId,
        runId: message.runId,
        taskId: message.taskId,
        tryNumber: message.tryNumber,
        maxTries: message.maxTries,
        logicalDate: new Date(message.logicalDate),
        dataInterval: { start: new Date(message.dataInterval.start), end: new Date(message.dataInterval.end) },
        conf: message.conf,
        // The parent kills this process on timeout or cancel, and it dies with its parent.
        signal: new AbortController().signal,
        log,
        upstreamIds: definition.upstreamIds,
        readUpstream: async (taskId) => message.upstreamOutputs[taskId],
      });
      const output = await definition.run(ctx);
      await send({ type: 'result', output });
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      await send({ type: 'error', message: e.message, ...(e.stack ? { stack: e.stack } : {}) });
    }
    process.exit(0);
  })();
});
