/**
 * Sandboxed children never outlive the process that runs their try: a real `flywheel worker`
 * SIGKILLed mid-try (its child, re-parented to init, used to run on: a failed `train` registered
 * a second model version, a failed `publish` finished publishing), and `flywheel standalone`
 * stopped by SIGTERM or unable to listen. Real processes, PostgreSQL and Redis.
 */
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, type HarnessOptions } from '../support/harness.ts';
import { Children, linesOf, pause, pidExists, tempDir, waitFor } from './proc-support.ts';

const OPS_DAGS = fileURLToPath(new URL('../fixtures/dags-ops', import.meta.url));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Children first (they hold connections to the harness's database), then the harness.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(options: HarnessOptions = {}) {
  const harness = await Harness.start({ dagsFolder: OPS_DAGS, workers: {}, ...options, config: { heartbeatMs: 200, zombieThresholdMs: 2000, ...options.config } });
  cleanups.push(() => harness.close());
  const tmp = await tempDir('ops-orphans');
  cleanups.push(tmp.remove);
  const children = new Children();
  cleanups.push(() => children.killAll());
  return { harness, dir: tmp.dir, children };
}

/**
 * Whether `pid` is a live process. An orphan that died stays a zombie until init reaps it (and
 * this machine's init reaps nothing), so a zombie counts as dead here, unlike `pidExists`.
 */
function running(pid: number): boolean {
  if (!pidExists(pid)) return false;
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true; // no procfs: existing is all we can tell
  try {
    // The state follows the command name, which is in parentheses and may hold spaces.
    const text = readFileSync(stat, 'utf8');
    const state = text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false; // gone between the two reads
  }
}

/** The pid the sandboxed child wrote, once it has. */
function childPid(dir: string): number | null {
  const [line] = linesOf(dir, 'child.pid');
  return line ? Number(line) : null;
}

/** A port on 127.0.0.1 that something listens on, and its release. */
async function takenPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  return { port: (server.address() as net.AddressInfo).port, release: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('a sandboxed try whose worker process is SIGKILLed', { timeout: 120_000 }, () => {
  for (const mode of ['sleep', 'busy'] as const) {
    it(`dies with its worker${mode === 'busy' ? ' even while it spins the CPU without yielding' : ''}, and never does the rest of its work`, async () => {
      const { harness, dir, children } = await setUp();
      const worker = children.start(['worker', '--pool', 'default'], harness.childEnv());
      const workMs = 4000;
      const run = await harness.trigger('ops_orphan', { conf: { dir, mode, workMs } });
      const pid = await waitFor('the sandboxed child to start its work', () => childPid(dir), { timeoutMs: 30_000, needs: [worker] });
      const startedAt = Date.now();
      expect(pid).not.toBe(worker.pid);
      expect(running(pid)).toBe(true);

      worker.signal('SIGKILL');
      expect(await worker.waitExit(10_000)).toEqual({ code: null, signal: 'SIGKILL' });
      try {
        await waitFor(`sandboxed child ${pid} to die with its worker`, () => !running(pid), { timeoutMs: 2500, intervalMs: 25 });
      } finally {
        // Without the fix it runs on: stop it here, after the check, so it cannot leak.
        if (running(pid)) process.kill(pid, 'SIGKILL');
      }
      // Past the moment its side effect was due (plus slack): it never happened.
      await pause(Math.max(0, startedAt + workMs + 1000 - Date.now()));
      expect(linesOf(dir, 'side-effect.log')).toEqual([]);

      // The scheduler reaps the try as a zombie: no retries, so the run fails.
      expect((await harness.waitForRun(run.dagRunId, { timeoutMs: 20_000 })).state).toBe('failed');
      const [instance] = await harness.taskInstances(run.dagRunId);
      expect(instance).toMatchObject({ state: 'failed', tryNumber: 1, output: null });
      expect(instance!.error).toMatch(/zombie: no heartbeat/);
      expect(linesOf(dir, 'side-effect.log')).toEqual([]);
    });
  }
});

describe('flywheel standalone', { timeout: 120_000 }, () => {
  it('exits (non-zero, naming the port) when its web port is taken, without running a task', async () => {
    const { harness, dir, children } = await setUp({ scheduler: false });
    const taken = await takenPort();
    cleanups.push(taken.release);
    // Queued before standalone starts: its workers would take it at once.
    const run = await harness.trigger('ops_quick', { conf: { dir } });

    const standalone = children.start(['standalone', '--port', String(taken.port), '--concurrency', '1'], harness.childEnv());
    const exit = await standalone.waitExit(20_000);
    expect(exit.code, standalone.describe()).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(standalone.stderr).toMatch(/EADDRINUSE/);
    // It failed before starting a scheduler or a worker: the task is still queued, never ran.
    await pause(500);
    expect(linesOf(dir, 'ran.log')).toEqual([]);
    expect(await harness.taskStates(run.dagRunId)).toEqual({ mark: 'queued' });
  });

  it('stopped by SIGTERM past its grace period hands the sandboxed try back, exits 0 and leaves no child', async () => {
    const { harness, dir, children } = await setUp({ scheduler: false });
    const port = await takenPort();
    await port.release(); // a port free a moment ago
    const standalone = children.start(['standalone', '--port', String(port.port), '--concurrency', '1'], { ...harness.childEnv(), FLYWHEEL_SHUTDOWN_GRACE_MS: '500' });
    const run = await harness.trigger('ops_orphan', { conf: { dir, mode: 'sleep', workMs: 4000 } });
    const pid = await waitFor('the sandboxed child to start its work', () => childPid(dir), { timeoutMs: 40_000, needs: [standalone] });
    const startedAt = Date.now();
    expect(running(pid)).toBe(true);

    standalone.signal('SIGTERM');
    expect(await standalone.waitExit(15_000), standalone.describe()).toEqual({ code: 0, signal: null });
    try {
      await waitFor(`sandboxed child ${pid} to be gone`, () => !running(pid), { timeoutMs: 2500, intervalMs: 25 });
    } finally {
      if (running(pid)) process.kill(pid, 'SIGKILL');
    }
    await pause(Math.max(0, startedAt + 4000 + 1000 - Date.now()));
    expect(linesOf(dir, 'side-effect.log')).toEqual([]);
    // Handed back: try 1 archived as failed, try 2 queued for the next worker.
    const [instance] = await harness.taskInstances(run.dagRunId);
    expect(instance).toMatchObject({ state: 'queued', tryNumber: 2 });
  });
});
