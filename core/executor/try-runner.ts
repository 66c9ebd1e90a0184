import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Dag } from '../sdk/dag.ts';
import { TaskTimeoutError } from '../sdk/errors.ts';
import type { JsonObject, JsonValue } from '../sdk/json.ts';
import type { TaskDefinition } from '../sdk/task.ts';
import { toXCom } from './json-output.ts';
import type { SandboxChildMessage, SandboxRunMessage } from './sandbox-protocol.ts';
import { createTaskContext } from './task-context.ts';
import type { TryLog } from './try-log.ts';

export interface TryRequest {
  dag: Dag;
  task: TaskDefinition;
  runId: string;
  tryNumber: number;
  maxTries: number;
  logicalDate: Date;
  dataInterval: { start: Date; end: Date };
  conf: JsonObject;
  log: TryLog;
  /** Fired when the try must stop for a reason other than its timeout (cancel, shutdown). */
  cancel: AbortSignal;
  xcomMaxBytes: number;
  readUpstream: (taskIds: readonly string[]) => Promise<Map<string, { state: string; output: JsonValue | null }>>;
}

export type TryResult = { outcome: 'success'; output: JsonValue } | { outcome: 'failed'; error: string };

const SANDBOX_ENTRY = fileURLToPath(new URL('./sandbox-child.ts', import.meta.url));
// tsx and the `flywheel` resolver, so the child loads DAG files from any folder as the worker does.
const LOADER = new URL('../loader/register.js', import.meta.url).href;

/** The sandboxed children of this process that are still alive. */
const sandboxedChildren = new Set<ChildProcess>();

/**
 * SIGKILLs every sandboxed child of this process that is still alive. It runs when this process
 * exits, whichever way it does (a worker's or standalone's `process.exit`, a crash), so no try
 * runs on after the worker that would record it is gone. A child also dies by itself when its
 * worker dies without exiting (SIGKILL): see sandbox-child.ts.
 */
function killSandboxedChildren(): void {
  for (const child of sandboxedChildren) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  sandboxedChildren.clear();
}

let exitHookInstalled = false;

/** Keeps `child` in {@link sandboxedChildren} until it exits. */
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killSandboxedChildren);
  }
  sandboxedChildren.add(child);
  child.once('exit', () => sandboxedChildren.delete(child));
}

/** Runs one try, in this process or a sandboxed child, enforcing its execution timeout. */
export async function runTry(request: TryRequest): Promise<TryResult> {
  const controller = new AbortController();
  const timeoutMs = request.task.executionTimeoutMs;
  const timer = timeoutMs === null ? null : setTimeout(() => controller.abort(new TaskTimeoutError(timeoutMs)), timeoutMs);
  const onCancel = () => controller.abort(request.cancel.reason);
  if (request.cancel.aborted) onCancel();
  else request.cancel.addEventListener('abort', onCancel, { once: true });
  try {
    const raw = request.task.sandboxed ? await runSandboxed(request, controller.signal) : await runInProcess(request, controller.signal);
    return { outcome: 'success', output: toXCom(request.task.taskId, raw, request.xcomMaxBytes) };
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return { outcome: 'failed', error: message };
  } finally {
    if (timer) clearTimeout(timer);
    request.cancel.removeEventListener('abort', onCancel);
  }
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

async function runInProcess(request: TryRequest, signal: AbortSignal): Promise<unknown> {
  let cache: Map<string, { state: string; output: JsonValue | null }> | null = null;
  const ctx = createTaskContext({
    dagId: request.dag.dagId,
    runId: request.runId,
    taskId: request.task.taskId,
    tryNumber: request.tryNumber,
    maxTries: request.maxTries,
    logicalDate: request.logicalDate,
    dataInterval: request.dataInterval,
    conf: request.conf,
    signal,
    log: request.log.logger(),
    upstreamIds: request.task.upstreamIds,
    readUpstream: async (taskId) => {
      // One query fetches every upstream output the first time one is asked for.
      cache ??= await request.readUpstream(request.task.upstreamIds);
      return cache.get(taskId);
    },
  });
  // A task that ignores ctx.signal still fails at its timeout; its promise is abandoned.
  return Promise.race([Promise.resolve().then(() => request.task.run(ctx)), abortPromise(signal)]);
}

async function runSandboxed(request: TryRequest, signal: AbortSignal): Promise<unknown> {
  if (!request.dag.fileloc) throw new Error(`DAG "${request.dag.dagId}" has no file to load in a sandbox`);
  const upstream = await request.readUpstream(request.task.upstreamIds);
  const message: SandboxRunMessage = {
    type: 'run',
    file: request.dag.fileloc,
    dagId: request.dag.dagId,
    taskId: request.task.taskId,
    runId: request.runId,
    tryNumber: request.tryNumber,
    maxTries: request.maxTries,
    logicalDate: request.logicalDate.toISOString(),
    dataInterval: { start: request.dataInterval.start.toISOString(), end: request.dataInterval.end.toISOString() },
    conf: request.conf,
    upstreamOutputs: Object.fromEntries(upstream),
  };
  // Its argument is this process's pid: the child dies when it is no longer this process's child.
  const child = fork(SANDBOX_ENTRY, [String(process.pid)], { execArgv: ['--import', LOADER], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  track(child);
  request.log.write('info', `running in a sandboxed process (pid ${child.pid})`);
  return new Promise<unknown>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    // Timeout, cancel, hand-back: the child is killed, and whatever it sends later is dropped
    // (settled), so a try that was failed or handed back never reports a result.
    const onAbort = () => {
      child.kill('SIGKILL');
      settle(() => reject(signal.reason));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    child.on('message', (raw) => {
      const reply = raw as SandboxChildMessage;
      if (reply.type === 'log') request.log.write(reply.level, reply.message, new Date(reply.at));
      else if (reply.type === 'result') settle(() => resolve(reply.output));
      else if (reply.type === 'error') settle(() => reject(Object.assign(new Error(reply.message), { stack: reply.stack ?? reply.message })));
    });
    child.on('error', (error) => settle(() => reject(error)));
    child.on('exit', (code, exitSignal) =>
      settle(() => reject(new Error(`sandboxed process exited (${exitSignal ?? `code ${code}`}) before reporting a result`))),
    );
    child.send(message);
  });
}
