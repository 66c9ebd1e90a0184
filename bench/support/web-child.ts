/**
 * `flywheel web` in a child process for the HTTP benchmarks: a fresh server per measurement
 * (so its CPU can be read from /proc and a setting switched by its environment), on a free
 * loopback port, answered `/api/v1/health` before it is handed back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(ROOT, 'bin', 'flywheel.js');

export interface WebChild {
  child: ChildProcess;
  baseUrl: string;
  stop: () => Promise<void>;
}

export interface WebChildOptions {
  /** The child's environment, given the temporary artifacts folder made for it. */
  env: (artifactsDir: string) => NodeJS.ProcessEnv;
  /** Node flags before the CLI (e.g. `--cpu-prof`). @defaultValue none */
  nodeArgs?: readonly string[];
  /** Name prefix of the temporary artifacts folder. @defaultValue `fwbench-web-` */
  tempPrefix?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startWebChild(options: WebChildOptions): Promise<WebChild> {
  const port = await freePort();
  const artifactsDir = mkdtempSync(path.join(os.tmpdir(), options.tempPrefix ?? 'fwbench-web-'));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, 'web', '--port', String(port)], {
    cwd: ROOT,
    env: options.env(artifactsDir),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`flywheel web exited with ${child.exitCode}`);
    if (await fetch(`${baseUrl}/api/v1/health`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) throw new Error('flywheel web did not answer /api/v1/health within 60 s');
    await sleep(200);
  }
  return {
    child,
    baseUrl,
    stop: async () => {
      if (child.exitCode === null) {
        // SIGTERM lets it flush its buffered impressions; a server that hangs is killed.
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(artifactsDir, { recursive: true, force: true });
    },
  };
}
