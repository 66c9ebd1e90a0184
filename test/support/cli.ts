/**
 * `flywheel …` as a real child process (bin/flywheel.js) for the CLI tests: its exit code and
 * output, whether it succeeds or fails.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunFlywheelOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** @defaultValue the checkout's root */
  cwd?: string;
  /** The CLI to run, e.g. an installed package's bin. @defaultValue this checkout's bin/flywheel.js */
  bin?: string;
}

export async function runFlywheel(args: readonly string[], options: RunFlywheelOptions): Promise<CliOutcome> {
  try {
    const bin = options.bin ?? path.join(ROOT, 'bin/flywheel.js');
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: options.cwd ?? ROOT, env: options.env, timeout: options.timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
