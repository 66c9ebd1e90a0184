/**
 * Child-process helpers for the proc-* integration tests: the real CLI (`node bin/flywheel.js`)
 * started as a child, with bounded waits and no leaked processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PROC_DAGS = fileURLToPath(new URL('../fixtures/dags-proc', import.meta.url));
const CLI = path.join(ROOT, 'bin', 'flywheel.js');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running `node bin/flywheel.js …` child. Output is collected (and kept bounded). */
export class CliChild {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  exit: Exit | null = null;
  readonly exited: Promise<Exit>;

  constructor(
    readonly args: readonly string[],
    env: NodeJS.ProcessEnv,
  ) {
    // Its own process group, so cleanup also reaches any sandboxed grandchild it forked.
    this.proc = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (text: string, chunk: Buffer) => (text + chunk.toString('utf8')).slice(-200_000);
    this.proc.stdout!.on('data', (chunk: Buffer) => (this.stdout = keep(this.stdout, chunk)));
    this.proc.stderr!.on('data', (chunk: Buffer) => (this.stderr = keep(this.stderr, chunk)));
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  /** Sends a signal to the child itself (not its group). */
  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(signal);
  }

  /** Waits for the child to exit; throws (with its output) if it has not within `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`flywheel ${this.args.join(' ')} (pid ${this.pid}) did not exit within ${timeoutMs} ms\n${this.describe()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILLs the child's whole process group (the child and anything it forked) and waits for the child's exit. */
  async killGroup(): Promise<void> {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // the group is already gone
    }
    if (this.alive) await this.waitExit(10_000).catch(() => undefined);
  }

  describe(): string {
    return `--- stdout ---\n${this.stdout.slice(-4000)}\n--- stderr ---\n${this.stderr.slice(-4000)}`;
  }
}

/** Tracks the children a test file starts and kills all of them (and their process groups) at the end. */
export class Children {
  private readonly all: CliChild[] = [];

  start(args: readonly string[], env: NodeJS.ProcessEnv): CliChild {
    const child = new CliChild(args, env);
    this.all.push(child);
    return child;
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all.map((child) => child.killGroup()));
  }
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs one CLI command to completion (bounded). */
export async function runCli(children: Children, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  const child = children.start(args, env);
  const exit = await child.waitExit(timeoutMs);
  return { ...exit, stdout: child.stdout, stderr: child.stderr };
}

/** Parses a CLI's `--json` stdout, failing with the output when it is not JSON. */
export function parseJson<T = Record<string, unknown>>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\n--- stderr ---\n${result.stderr}`);
  }
}

/**
 * Polls `probe` until it returns a truthy value; throws `what` (and the last detail) after
 * `timeoutMs`, or at once when one of `needs` (children the outcome depends on) has exited.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: { timeoutMs?: number; intervalMs?: number; detail?: () => string | Promise<string>; needs?: readonly CliChild[] } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    const value = await probe();
    if (value) return value;
    const dead = options.needs?.find((child) => !child.alive);
    if (dead) throw new Error(`flywheel ${dead.args.join(' ')} exited (${JSON.stringify(dead.exit)}) while waiting for ${what}\n${dead.describe()}`);
    if (Date.now() > deadline) {
      const detail = options.detail ? `\n${await options.detail()}` : '';
      throw new Error(`timed out after ${options.timeoutMs ?? 20_000} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/** Lines of a file under a fixture's `conf.dir` (none when the file does not exist yet). */
export function linesOf(dir: string, name: string): string[] {
  const file = path.join(dir, name);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0);
}

/** A fresh temporary folder, and its removal. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `flywheel-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Whether a process with this pid exists (a zombie counts as existing). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sleeps `ms`. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
