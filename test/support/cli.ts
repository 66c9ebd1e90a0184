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

export async function runFlywheel(args: readonly string[], options: { env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CliOutcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'bin/flywheel.js'), ...args], { cwd: ROOT, env: options.env, timeout: options.timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
