/**
 * Entry point of a sandboxed try: a child process that loads the DAG file, runs one task and
 * reports log lines and the result over IPC. CPU-bound work here cannot stall the worker.
 */
import { importDagFile } from '../loader/dag-bag.ts';
import type { TaskLogger } from '../sdk/task.ts';
import type { SandboxChildMessage, SandboxRunMessage } from './sandbox-protocol.ts';
import { createTaskContext } from './task-context.ts';

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
        // The parent kills this process on timeout or cancel.
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
