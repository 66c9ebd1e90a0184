/**
 * The CLI as a user runs it: `node bin/flywheel.js …` child processes against a live
 * database and queues (scheduler and workers running in this process).
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDag } from '../../core/db/queries/dags.ts';
import { Harness } from '../support/harness.ts';
import { Children, PROC_DAGS, parseJson, runCli, type CliResult } from './proc-support.ts';

interface DagTestJson {
  dagId: string;
  runId: string;
  state: string;
  durationMs: number;
  tasks: { taskId: string; state: string; tryNumber: number; output: unknown; startDate: string | null; endDate: string | null; durationMs: number | null; error: string | null }[];
}

describe('flywheel CLI', { timeout: 120_000 }, () => {
  let harness: Harness;
  const children = new Children();
  const cli = (...args: string[]) => runCli(children, args, harness.childEnv());

  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: PROC_DAGS });
  });
  afterAll(async () => {
    await children.killAll();
    if (harness) {
      // `dags test` uses private queues (<prefix>-test-<id>); remove what they left in Redis.
      const redis = harness.redisClient();
      try {
        const keys = await redis.keys(`${harness.config.queuePrefix}-test-*`);
        if (keys.length > 0) await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
      await harness.close();
    }
  });

  /** A failed command: non-zero exit, nothing on stdout, the reason on stderr. */
  function expectRejected(result: CliResult, code: number, message: RegExp) {
    expect({ code: result.code, stdout: result.stdout }, result.stderr).toEqual({ code, stdout: '' });
    expect(result.stderr).toMatch(message);
  }

  it('`dags test --json` runs a good DAG to the end in its own process and exits 0', async () => {
    const result = await cli('dags', 'test', 'proc_cli', '--conf', '{"x":7}', '--json');
    expect(result.code, result.stderr).toBe(0);
    const report = parseJson<DagTestJson>(result);
    expect(report).toMatchObject({ dagId: 'proc_cli', state: 'success' });
    expect(report.runId).toMatch(/^test__/);
    expect(report.tasks[0]!.taskId).toBe('extract'); // topological order
    expect(Object.fromEntries(report.tasks.map((t) => [t.taskId, [t.state, t.tryNumber, t.output, t.error]]))).toEqual({
      extract: ['success', 1, { rows: 3, x: 7 }, null],
      transform: ['success', 1, { rows: 6 }, null],
      load: ['success', 1, { loaded: 6 }, null],
      report: ['success', 1, { reported: true }, null],
    });
    for (const t of report.tasks) {
      expect(t.durationMs).toBeGreaterThanOrEqual(0);
      expect(new Date(t.endDate!).getTime()).toBeGreaterThanOrEqual(new Date(t.startDate!).getTime());
    }
    // It ran in the `dags test` process, not in this process's live workers.
    const stored = await harness.db.execute<{ task_id: string; pid: number }>(
      sql`select ti.task_id, ti.pid from task_instance ti join dag_run r on r.id = ti.dag_run_id where r.dag_id = 'proc_cli' and r.run_id = ${report.runId}`,
    );
    expect(stored.rows).toHaveLength(4);
    expect(stored.rows.filter((row) => row.pid === process.pid)).toEqual([]);
  });

  it('`dags test --json` exits 1 with state failed for a failing DAG', async () => {
    const result = await cli('dags', 'test', 'proc_cli_fail', '--json');
    expect(result.code, result.stderr).toBe(1);
    const report = parseJson<DagTestJson>(result);
    expect(report).toMatchObject({ dagId: 'proc_cli_fail', state: 'failed' });
    expect(Object.fromEntries(report.tasks.map((t) => [t.taskId, [t.state, t.tryNumber]]))).toEqual({
      ok: ['success', 1],
      broken: ['failed', 1],
      never: ['upstream_failed', 0],
    });
    expect(report.tasks.find((t) => t.taskId === 'broken')!.error).toMatch(/broken on purpose/);
    const stored = await harness.db.execute<{ pid: number | null }>(
      sql`select ti.pid from task_instance ti join dag_run r on r.id = ti.dag_run_id where r.dag_id = 'proc_cli_fail' and r.run_id = ${report.runId} and ti.try_number > 0`,
    );
    expect(stored.rows).toHaveLength(2);
    expect(stored.rows.filter((row) => row.pid === process.pid)).toEqual([]);
  });

  it('trigger → runs list → tasks list → tasks logs → tasks clear --downstream, all with --json', async () => {
    const triggered = await cli('dags', 'trigger', 'proc_cli', '--conf', '{"x":1}', '--json');
    expect(triggered.code, triggered.stderr).toBe(0);
    const run = parseJson<{ dagId: string; dagRunId: number; runId: string; state: string; logicalDate: string }>(triggered);
    expect(run).toMatchObject({ dagId: 'proc_cli', state: 'running' });
    expect(run.runId).toBe(`manual__${run.logicalDate}`);
    expect((await harness.waitForRun(run.dagRunId)).state).toBe('success');

    const [listedResult, tasksResult, logsResult] = await Promise.all([
      cli('runs', 'list', 'proc_cli', '--json'),
      cli('tasks', 'list', 'proc_cli', run.runId, '--json'),
      cli('tasks', 'logs', 'proc_cli', run.runId, 'extract', '--try', '1', '--json'),
    ]);
    const listed = parseJson<{ dagId: string; runs: { runId: string; state: string; runType: string; conf: unknown }[] }>(listedResult);
    expect(listed.dagId).toBe('proc_cli');
    expect(listed.runs.find((r) => r.runId === run.runId)).toMatchObject({ state: 'success', runType: 'manual', conf: { x: 1 } });

    const tasks = parseJson<{ taskInstances: { taskId: string; state: string; tryNumber: number; output: unknown }[] }>(tasksResult);
    expect(tasks.taskInstances.map((t) => [t.taskId, t.state, t.tryNumber]).sort()).toEqual([
      ['extract', 'success', 1],
      ['load', 'success', 1],
      ['report', 'success', 1],
      ['transform', 'success', 1],
    ]);
    expect(tasks.taskInstances.find((t) => t.taskId === 'extract')!.output).toEqual({ rows: 3, x: 1 });

    const logs = parseJson<{ tryNumber: number; lines: { level: string; message: string }[] }>(logsResult);
    expect(logs.tryNumber).toBe(1);
    expect(logs.lines.map((l) => l.message)).toContain('extracting with x=1 on try 1');

    const cleared = await cli('tasks', 'clear', 'proc_cli', run.runId, 'transform', '--downstream', '--json');
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(parseJson<{ cleared: string[] }>(cleared).cleared.sort()).toEqual(['load', 'transform']);
    // The cleared tasks run again (and only they). The run left `success` when the clear committed.
    expect((await harness.waitForRun(run.dagRunId)).state).toBe('success');
    const [afterResult, latestResult, tooFarResult] = await Promise.all([
      cli('tasks', 'list', 'proc_cli', run.runId, '--json'),
      cli('tasks', 'logs', 'proc_cli', run.runId, 'transform', '--json'),
      cli('tasks', 'logs', 'proc_cli', run.runId, 'transform', '--try', '3', '--json'),
    ]);
    const after = parseJson<{ taskInstances: { taskId: string; state: string; tryNumber: number }[] }>(afterResult);
    expect(after.taskInstances.map((t) => [t.taskId, t.state, t.tryNumber]).sort()).toEqual([
      ['extract', 'success', 1],
      ['load', 'success', 2],
      ['report', 'success', 1],
      ['transform', 'success', 2],
    ]);
    const latest = parseJson<{ tryNumber: number; lines: unknown[] }>(latestResult);
    expect(latest.tryNumber).toBe(2);
    expect(latest.lines.length).toBeGreaterThan(0);
    expectRejected(tooFarResult, 2, /^error: task "transform" has tries 1–2, not 3$/m);
  });

  it('`dags pause` / `dags unpause --json`: a run triggered while paused waits, and runs once unpaused', async () => {
    const paused = await cli('dags', 'pause', 'proc_cli', '--json');
    expect(paused.code, paused.stderr).toBe(0);
    expect(parseJson(paused)).toEqual({ dagId: 'proc_cli', isPaused: true });
    expect((await getDag(harness.db, 'proc_cli'))?.isPaused).toBe(true);

    const triggered = parseJson<{ dagRunId: number; state: string }>(await cli('dags', 'trigger', 'proc_cli', '--json'));
    expect(triggered.state).toBe('queued');
    await new Promise((resolve) => setTimeout(resolve, 1000)); // ten scheduler passes
    expect((await harness.waitForRun(triggered.dagRunId, { states: ['queued', 'running', 'success', 'failed'] })).state).toBe('queued');

    const unpaused = await cli('dags', 'unpause', 'proc_cli', '--json');
    expect(unpaused.code, unpaused.stderr).toBe(0);
    expect(parseJson(unpaused)).toEqual({ dagId: 'proc_cli', isPaused: false });
    expect((await getDag(harness.db, 'proc_cli'))?.isPaused).toBe(false);
    expect((await harness.waitForRun(triggered.dagRunId)).state).toBe('success');
  });

  it('rejects bad input with a non-zero exit and a clear message on stderr', async () => {
    const runs = await harness.db.execute<{ n: number }>(sql`select count(*)::int as n from dag_run`);
    const [array, notJson, unknownDag, unknownTestDag, unknownRun, unknownTask, pauseUnknown, badDate] = await Promise.all([
      cli('dags', 'trigger', 'proc_cli', '--conf', '[1]', '--json'),
      cli('dags', 'trigger', 'proc_cli', '--conf', 'notjson', '--json'),
      cli('dags', 'trigger', 'no_such_dag', '--json'),
      cli('dags', 'test', 'no_such_dag', '--json'),
      cli('tasks', 'list', 'proc_cli', 'no_such_run', '--json'),
      cli('tasks', 'clear', 'proc_cli', 'no_such_run', 'no_such_task', '--json'),
      cli('dags', 'pause', 'no_such_dag', '--json'),
      cli('dags', 'trigger', 'proc_cli', '--logical-date', 'yesterday', '--json'),
    ]);
    expectRejected(array, 2, /option '--conf <json>' argument '\[1\]' is invalid\. must be a JSON object/);
    expectRejected(notJson, 2, /option '--conf <json>' argument 'notjson' is invalid\. not JSON: /);
    expectRejected(unknownDag, 2, /^error: DAG "no_such_dag" is not defined in .*dags-proc$/m);
    expectRejected(unknownTestDag, 2, /^error: DAG "no_such_dag" is not defined in .*dags-proc$/m);
    expect(unknownTestDag.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expectRejected(unknownRun, 2, /^error: DAG "proc_cli" has no run "no_such_run"$/m);
    expectRejected(unknownTask, 2, /^error: DAG "proc_cli" has no task "no_such_task"$/m);
    expectRejected(pauseUnknown, 2, /no DAG "no_such_dag"/);
    expectRejected(badDate, 2, /"yesterday" is not an ISO 8601 date/);
    // None of them created a run.
    expect((await harness.db.execute<{ n: number }>(sql`select count(*)::int as n from dag_run`)).rows[0]!.n).toBe(runs.rows[0]!.n);
  });
});
