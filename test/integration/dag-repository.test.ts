/**
 * A data engineers' DAG repository outside this checkout, as a new user makes one: the SDK packed
 * with `npm pack`, `flywheel init`, a third-party package and a helper of its own, `npm install`
 * (from the npm cache the checkout's `npm ci` filled), then its own tests, `dags check` and
 * `dags test` (in-process and sandboxed tasks) through the installed package's bin and through
 * this checkout's CLI pointed at it with DAGS_FOLDER.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlywheel, type CliOutcome } from '../support/cli.ts';
import { createTestDatabase } from '../support/database.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const exec = promisify(execFile);
const INSTALL_TIMEOUT_MS = 240_000;

/** The parent `npm test`'s npm_* settings (prefix, lifecycle, …) must not leak into the child npm. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && !['DATABASE_URL', 'REDIS_URL', 'DAGS_FOLDER', 'FLYWHEEL_QUEUE_PREFIX', 'NODE_OPTIONS', 'VITEST', 'VITEST_MODE', 'VITEST_POOL_ID', 'VITEST_WORKER_ID', 'NODE_ENV'].includes(key)) env[key] = value;
  }
  return { ...env, FLYWHEEL_LOG_LEVEL: 'warn', ...extra };
}

async function npm(args: string[], cwd: string, timeoutMs: number): Promise<CliOutcome> {
  try {
    const { stdout, stderr } = await exec('npm', args, { cwd, env: cleanEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A DAG beside the scaffold's example: a third-party package and the repository's own helper, in a worker and in a sandboxed child. */
const COLORED_DAG = `import pc from 'picocolors';
import { dag, task } from 'flywheel';
import { summarize } from '../lib/stats.ts';

const colors = pc.createColors(true);

export default dag({ dagId: 'colored', schedule: null }, () => {
  const inWorker = task({
    taskId: 'in_worker',
    run: () => ({ pid: process.pid, red: colors.red('picks'), total: summarize([1, 2, 3]).total }),
  });
  task({
    taskId: 'sandboxed',
    upstream: [inWorker],
    sandboxed: true,
    run: async (ctx) => {
      const { total } = await ctx.upstream(inWorker);
      return { pid: process.pid, green: colors.green(String(total)) };
    },
  });
});
`;

/** Line 8 reads a number into a string: TS2322 at 8:33 (the variable). */
const BROKEN_DAG = `import { dag, task } from 'flywheel';

export default dag({ dagId: 'broken', schedule: null }, () => {
  const count = task({ taskId: 'count', run: () => ({ rows: 3 }) });
  task({
    taskId: 'label',
    upstream: [count],
    run: async (ctx) => { const text: string = (await ctx.upstream(count)).rows; return { text }; },
  });
});
`;

interface CheckReport {
  ok: boolean;
  dags: { dagId: string; tasks: number }[];
  problems: { kind: string; file: string; line?: number; column?: number; dagId?: string; taskId?: string; code?: string; message: string }[];
}

interface DagTestReport {
  state: string;
  tasks: { taskId: string; state: string; output: Record<string, unknown> | null }[];
}

describe('a DAG repository outside the checkout', () => {
  let tmp: string;
  let repo: string;
  let installedBin: string;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'flywheel-dag-repo-'));
    expect(path.relative(ROOT, tmp).startsWith('..')).toBe(true);
    database = await createTestDatabase();

    const packed = await npm(['pack', '--pack-destination', tmp, '--json'], ROOT, INSTALL_TIMEOUT_MS);
    expect(packed.code, packed.stderr).toBe(0);
    const [{ filename, files }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
    const packedPaths = files.map((f) => f.path);
    // What an installed package needs: the built SDK with its types, the bin and the scaffold; no tests.
    expect(packedPaths).toEqual(expect.arrayContaining(['dist/sdk/index.js', 'dist/sdk/index.d.ts', 'dist/testing/run-task.d.ts', 'bin/flywheel.js', 'cli/init-template/dags/hello_flywheel.ts']));
    expect(packedPaths.some((p) => p.startsWith('test/'))).toBe(false);

    repo = path.join(tmp, 'our-dags');
    const init = await runFlywheel(['init', repo, '--sdk', `file:${path.join(tmp, filename)}`], { env: cleanEnv(), timeoutMs: 30_000 });
    expect(init.code, init.stderr).toBe(0);
    const manifest = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    manifest.dependencies.picocolors = '1.1.1';
    await writeFile(path.join(repo, 'package.json'), JSON.stringify(manifest, null, 2));
    await writeFile(path.join(repo, 'dags', 'colored.ts'), COLORED_DAG);

    const installed = await npm(['install', '--prefer-offline', '--no-audit', '--no-fund'], repo, INSTALL_TIMEOUT_MS);
    expect(installed.code, installed.stderr).toBe(0);
    installedBin = path.join(repo, 'node_modules', 'flywheel', 'bin', 'flywheel.js');
  }, INSTALL_TIMEOUT_MS * 2);

  afterAll(async () => {
    await database?.drop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("the scaffold passes its own tests and type check against the installed SDK's .d.ts", async () => {
    const tests = await npm(['test'], repo, 120_000);
    expect(tests.code, tests.stdout + tests.stderr).toBe(0);
    expect(tests.stdout).toMatch(/Tests\s+.*4 passed/);
    const typecheck = await npm(['run', 'typecheck'], repo, 120_000);
    expect(typecheck.code, typecheck.stdout + typecheck.stderr).toBe(0);
  });

  it('dags check passes with neither PostgreSQL nor Redis, from the installed bin and from this checkout', async () => {
    for (const bin of [installedBin, undefined]) {
      const outcome = await runFlywheel(['dags', 'check', '--json'], { env: cleanEnv({ DAGS_FOLDER: path.join(repo, 'dags') }), timeoutMs: 60_000, cwd: repo, ...(bin ? { bin } : {}) });
      expect(outcome.code, outcome.stdout + outcome.stderr).toBe(0);
      const report = JSON.parse(outcome.stdout) as CheckReport;
      expect(report.problems).toEqual([]);
      expect(report.dags.map((d) => [d.dagId, d.tasks])).toEqual([
        ['colored', 2],
        ['hello_flywheel', 3],
      ]);
    }
  });

  it('dags test runs both DAGs through the installed bin: in-process and sandboxed tasks, the third-party package and the helper', async () => {
    const env = cleanEnv({ DATABASE_URL: database.url, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', FLYWHEEL_QUEUE_PREFIX: `dagrepo${process.pid}` });
    const colored = await runFlywheel(['dags', 'test', 'colored', '--json'], { env, timeoutMs: 120_000, cwd: repo, bin: installedBin });
    expect(colored.code, colored.stdout + colored.stderr).toBe(0);
    const report = JSON.parse(colored.stdout) as DagTestReport;
    expect(report.state).toBe('success');
    const outputOf = (taskId: string) => report.tasks.find((t) => t.taskId === taskId)!.output!;
    const inWorker = outputOf('in_worker');
    const sandboxed = outputOf('sandboxed');
    expect(inWorker).toMatchObject({ red: '\u001b[31mpicks\u001b[39m', total: 6 });
    expect(sandboxed).toMatchObject({ green: '\u001b[32m6\u001b[39m' });
    // The sandboxed try ran in a child process of its own, which loaded the DAG file from the repository too.
    expect(sandboxed.pid).not.toBe(inWorker.pid);

    const hello = await runFlywheel(['dags', 'test', 'hello_flywheel', '--json'], { env, timeoutMs: 120_000, cwd: repo, bin: installedBin });
    expect(hello.code, hello.stdout + hello.stderr).toBe(0);
    const helloReport = JSON.parse(hello.stdout) as DagTestReport;
    expect(helloReport.tasks.map((t) => [t.taskId, t.state])).toEqual([
      ['extract', 'success'],
      ['summarize', 'success'],
      ['report', 'success'],
    ]);
    expect(helloReport.tasks.find((t) => t.taskId === 'summarize')!.output).toEqual({ count: 24, total: 276, mean: 11.5 });
  });

  it('dags check reports a type error with file, line, DAG and task, and exits 1', async () => {
    const broken = path.join(repo, 'dags', 'broken.ts');
    await writeFile(broken, BROKEN_DAG);
    try {
      const outcome = await runFlywheel(['dags', 'check'], { env: cleanEnv(), timeoutMs: 60_000, cwd: repo, bin: installedBin });
      expect(outcome.code).toBe(1);
      expect(outcome.stdout).toContain(`${path.join('dags', 'broken.ts')}:8:33 DAG "broken", task "label": TS2322 Type 'number' is not assignable to type 'string'.`);
      expect(outcome.stdout.trimEnd().split('\n').at(-1)).toBe('3 DAG files, 3 DAGs, 1 problem');
    } finally {
      await unlink(broken);
    }
  });
});
