/**
 * The per-pool entry point `workers/default.ts` is a real worker process: it runs a DAG's tasks
 * from the default pool and stops cleanly (exit 0) on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.ts';
import { PROC_DAGS, ROOT } from './proc-support.ts';

describe('workers/default.ts', { timeout: 90_000 }, () => {
  let harness: Harness;
  let child: ChildProcess | null = null;
  let output = '';

  beforeAll(async () => {
    // The scheduler runs here; the only worker is the child.
    harness = await Harness.start({ dagsFolder: PROC_DAGS, workers: {} });
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await harness?.close();
  });

  it('runs the default pool until SIGTERM, then exits 0', async () => {
    child = spawn(process.execPath, ['--import', './core/loader/register.js', 'workers/default.ts'], {
      cwd: ROOT,
      env: { ...harness.childEnv(), FLYWHEEL_WORKER_CONCURRENCY: '2', FLYWHEEL_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));

    const run = await harness.trigger('proc_cli', { conf: { x: 3 } });
    const finished = await harness.waitForRun(run.dagRunId, { timeoutMs: 60_000 });
    expect(finished.state, output).toBe('success');
    const states = Object.values(await harness.taskStates(run.dagRunId));
    expect(states.length).toBeGreaterThanOrEqual(3);
    expect(states.every((state) => state === 'success')).toBe(true);

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code, output).toBe(0);
    expect(output).toMatch(/worker stopping/);
  });
});
