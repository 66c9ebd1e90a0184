/**
 * `flywheel dags check`: a DAGs folder checked with no PostgreSQL or Redis (the child processes
 * get neither URL, and a configuration loadConfig() would refuse): import and definition errors,
 * type errors with their file, line and code, unknown pools, a missing folder; exit 1 on any.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDags, type DagCheckReport } from '../../core/loader/dag-check.ts';
import { listDagFiles } from '../../core/loader/dag-bag.ts';
import { typeCheckDagFiles } from '../../core/loader/type-check.ts';
import { runFlywheel } from '../support/cli.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = 'test/fixtures/dags-check';
const BAD_DAGS_MORE = 'test/fixtures/bad-dags-more';

/** The environment without a database, Redis or DAG settings; FLYWHEEL_HEARTBEAT_MS=0 makes loadConfig() throw, so a command that read the configuration would fail. */
function checkEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FLYWHEEL_HEARTBEAT_MS: '0', ...extra };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'DAGS_FOLDER', 'FLYWHEEL_POOLS']) if (!(name in extra)) delete env[name];
  return env;
}

const check = (args: string[], extra?: NodeJS.ProcessEnv) => runFlywheel(['dags', 'check', ...args], { env: checkEnv(extra), timeoutMs: 60_000 });

function report(result: { stdout: string; stderr: string }): DagCheckReport {
  try {
    return JSON.parse(result.stdout) as DagCheckReport;
  } catch {
    throw new Error(`not JSON on stdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
}

describe('flywheel dags check', { timeout: 90_000 }, () => {
  it('a valid folder (DAGS_FOLDER, with a helper module): exit 0, ok, the DAG and only the DAG file listed', async () => {
    const result = await check(['--json'], { DAGS_FOLDER: `${FIXTURES}/good` });
    expect(result.code, result.stderr).toBe(0);
    expect(report(result)).toEqual({
      ok: true,
      folder: `${FIXTURES}/good`,
      files: [`${FIXTURES}/good/daily_counts.ts`],
      dags: [{ dagId: 'daily_counts', fileloc: `${FIXTURES}/good/daily_counts.ts`, tasks: 2 }],
      problems: [],
    });
  });

  it('a type error through ctx.upstream(handle): exit 1, the file, line, column, DAG, task and TS code', async () => {
    const result = await check(['--folder', `${FIXTURES}/type-error`, '--json']);
    expect(result.code, result.stderr).toBe(1);
    const body = report(result);
    expect(body.ok).toBe(false);
    expect(body.dags.map((d) => d.dagId)).toEqual(['typed_wrong']); // it imports fine: tsx strips types
    expect(body.problems).toEqual([
      {
        kind: 'type',
        file: `${FIXTURES}/type-error/typed_wrong.ts`,
        line: 11,
        column: 13,
        dagId: 'typed_wrong',
        taskId: 'report',
        code: 'TS2322',
        message: "Type 'number' is not assignable to type 'string'.",
      },
    ]);
  });

  it('an unknown pool: exit 1 naming the DAG, task and pool; exit 0 once --pool and FLYWHEEL_POOLS name the pools', async () => {
    const result = await check(['--folder', `${FIXTURES}/bad-pool`]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      `${FIXTURES}/bad-pool/bad_pool.ts DAG "bad_pool", task "score": unknown pool "nope" (known pools: default, gpu)`,
      `${FIXTURES}/bad-pool/bad_pool.ts DAG "bad_pool", task "train": unknown pool "gpu_large" (known pools: default, gpu)`,
      '1 DAG file, 1 DAG, 2 problems',
    ]);

    const allowed = await check(['--folder', `${FIXTURES}/bad-pool`, '--pool', 'nope'], { FLYWHEEL_POOLS: 'gpu_large, other' });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout.trimEnd()).toBe('1 DAG file, 1 DAG, 0 problems');
  });

  it('bad-dags-more: each broken file a problem naming its file, DAG and task where known', async () => {
    const result = await check(['--folder', BAD_DAGS_MORE, '--json']);
    expect(result.code, result.stderr).toBe(1);
    const body = report(result);
    expect(body.dags.map((d) => d.dagId)).toEqual(['good_more']);
    const at = (name: string) => `${BAD_DAGS_MORE}/${name}`;
    expect(body.problems).toEqual([
      { kind: 'definition', file: at('bad_cron.ts'), dagId: 'bad_cron', message: expect.stringMatching(/^cron schedule "61 \* \* \* \*" is invalid/) },
      { kind: 'definition', file: at('bad_timezone.ts'), dagId: 'bad_timezone', message: expect.stringMatching(/^timezone "Mars\/Olympus_Mons" is not an IANA timezone/) },
      { kind: 'definition', file: at('duplicate_task.ts'), dagId: 'duplicate_task', taskId: 'load', message: 'duplicate taskId' },
      { kind: 'no-dag', file: at('no_default_export.ts'), message: 'has no default export of dag(...)' },
      { kind: 'definition', file: at('unknown_upstream.ts'), dagId: 'unknown_upstream', taskId: 'transform', message: 'unknown upstream "missing"' },
      { kind: 'duplicate-dag', file: at('z_duplicate_dag_id.ts'), dagId: 'good_more', message: `dagId "good_more" is already defined in ${at('good_more.ts')}` },
    ]);
  });

  it('a missing folder: exit 1 and says so', async () => {
    const result = await check(['--folder', `${FIXTURES}/no-such-folder`]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toContain(`the DAGs folder ${path.join(ROOT, FIXTURES, 'no-such-folder')} does not exist`);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('0 DAG files, 0 DAGs, 1 problem');
  });
});

describe('checkDags and typeCheckDagFiles in process', { timeout: 60_000 }, () => {
  let outside: string;
  beforeAll(async () => {
    outside = await mkdtemp(path.join(os.tmpdir(), 'flywheel-dags-check-'));
  });
  afterAll(async () => {
    if (outside) await rm(outside, { recursive: true, force: true });
  });

  it('a cycle names its DAG and task; a syntax error is an import problem and a TypeScript one', async () => {
    const body = await checkDags({ folder: 'test/fixtures/bad-dags', pools: ['default'] });
    expect(body.dags.map((d) => d.dagId)).toEqual(['good']);
    expect(body.problems).toContainEqual({ kind: 'definition', file: 'test/fixtures/bad-dags/cycle.ts', dagId: 'cycle', taskId: 'a', message: 'cycle: a → b → a' });
    expect(body.problems).toContainEqual(expect.objectContaining({ kind: 'import', file: 'test/fixtures/bad-dags/syntax.ts' }));
    expect(body.problems).toContainEqual(expect.objectContaining({ kind: 'type', file: 'test/fixtures/bad-dags/syntax.ts', line: 2, code: 'TS1005' }));
  });

  it('a DAG repository outside this checkout, with no tsconfig.json or package.json, checks as the loader runs it', async () => {
    // A top-level await (an ES module to the loader, CommonJS to a plain NodeNext check), a `node:`
    // import (this installation's @types/node) and `flywheel` (this installation's SDK).
    await writeFile(
      path.join(outside, 'outside.ts'),
      [
        "import { dag, task } from 'flywheel';",
        "import { cpus } from 'node:os';",
        'const cores = await Promise.resolve(cpus().length);',
        "export default dag({ dagId: 'outside', schedule: null }, () => {",
        "  const count = task({ taskId: 'count', run: () => ({ cores }) });",
        "  task({ taskId: 'use', upstream: [count], run: async (ctx) => ({ twice: (await ctx.upstream(count)).cores * 2, wrong: (await ctx.upstream(count)).missing }) });",
        '});',
        '',
      ].join('\n'),
    );
    const checked = await typeCheckDagFiles({ folder: outside, files: await listDagFiles(outside) });
    expect(checked.configFile).toBeNull();
    expect(checked.problems).toEqual([
      expect.objectContaining({ file: path.join(outside, 'outside.ts'), line: 6, code: 'TS2339', dagId: 'outside', taskId: 'use', message: expect.stringContaining("Property 'missing' does not exist") }),
    ]);
  });
});
