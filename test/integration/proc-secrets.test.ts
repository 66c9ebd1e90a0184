/**
 * Secrets from a worker's environment never reach stored task logs (or errors): a real
 * `flywheel worker` child with secrets in its environment runs tasks that log them.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.ts';
import { Children, PROC_DAGS, parseJson, runCli } from './proc-support.ts';

const SECRETS = {
  SOME_API_TOKEN: 'tok_live_9f8e7d6c5b4a3921',
  PROC_DB_PASSWORD: 'pg-Pa55word-xyz',
  WAREHOUSE_URL: 'postgres://etl_user:wh-secret-4242@warehouse.internal:5432/analytics',
};
const SECRET_VALUES = [SECRETS.SOME_API_TOKEN, SECRETS.PROC_DB_PASSWORD, 'wh-secret-4242'];

describe('secrets in task logs', { timeout: 90_000 }, () => {
  let harness: Harness;
  const children = new Children();
  let run: { dagRunId: number; runId: string };

  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: PROC_DAGS, workers: {} });
    children.start(['worker', '--pool', 'default', '--concurrency', '3'], { ...harness.childEnv(), ...SECRETS });
    run = await harness.trigger('proc_secrets');
    // `fails` fails, so the run does; the other two succeed.
    expect((await harness.waitForRun(run.dagRunId, { timeoutMs: 60_000 })).state).toBe('failed');
  }, 90_000);
  afterAll(async () => {
    await children.killAll();
    await harness?.close();
  });

  const expectedLines = ['token is ***', 'connecting to postgres://etl_user:***@warehouse.internal:5432/analytics', 'warehouse url postgres://etl_user:***@warehouse.internal:5432/analytics', 'warehouse password alone: ***'];

  it('an in-process task: its log lines are stored with *** for the secrets', async () => {
    expect(await harness.taskStates(run.dagRunId)).toEqual({ in_process: 'success', sandboxed: 'success', fails: 'failed' });
    const messages = (await harness.logs(run.dagRunId, 'in_process', 1)).map((l) => l.message);
    for (const line of expectedLines) expect(messages).toContain(line);
  });

  it('a sandboxed task (a grandchild process, logging over IPC): the same', async () => {
    const lines = await harness.logs(run.dagRunId, 'sandboxed', 1);
    for (const line of expectedLines) expect(lines.filter((l) => l.level === 'warn').map((l) => l.message)).toContain(line);
  });

  it('no stored log line, error or output of the run contains a secret, and `tasks logs` shows the redacted lines', async () => {
    const stored = await harness.db.execute<{ text: string }>(sql`
      select message as text from task_log where dag_run_id = ${run.dagRunId}
      union all select coalesce(error, '') || coalesce(output::text, '') from task_instance where dag_run_id = ${run.dagRunId}
      union all select coalesce(error, '') || coalesce(output::text, '') from task_try where dag_run_id = ${run.dagRunId}
    `);
    expect(stored.rows.length).toBeGreaterThan(10);
    const leaks = stored.rows.filter((row) => SECRET_VALUES.some((secret) => row.text.includes(secret)));
    expect(leaks).toEqual([]);
    // The failing task's error is stored, redacted.
    const [fails] = (await harness.taskInstances(run.dagRunId)).filter((t) => t.taskId === 'fails');
    expect(fails!.error).toMatch(/could not authenticate with token \*\*\*/);

    const cli = await runCli(children, ['tasks', 'logs', 'proc_secrets', run.runId, 'fails', '--json'], harness.childEnv());
    expect(cli.code, cli.stderr).toBe(0);
    const messages = parseJson<{ lines: { message: string }[] }>(cli).lines.map((l) => l.message);
    expect(messages.some((m) => m.includes('could not authenticate with token ***'))).toBe(true);
    expect(SECRET_VALUES.filter((secret) => cli.stdout.includes(secret))).toEqual([]);
  });
});
