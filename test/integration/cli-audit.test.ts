/**
 * Writes made from the CLI land in the audit log like the web's, as `cli:<OS user>`.
 */
import os from 'node:os';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.ts';
import { Children, PROC_DAGS, parseJson, runCli } from './proc-support.ts';

type AuditRow = {
  actor: string;
  auth: string;
  action: string;
  dag_id: string | null;
  run_id: string | null;
  task_id: string | null;
  target: string | null;
  details: Record<string, unknown>;
};

describe('CLI writes are audited', { timeout: 120_000 }, () => {
  let harness: Harness;
  const children = new Children();
  const cli = (...args: string[]) => runCli(children, args, harness.childEnv());
  const actor = `cli:${os.userInfo().username}`;

  async function audit(): Promise<AuditRow[]> {
    const result = await harness.runtime.db.execute<AuditRow>(sql`select actor, auth, action, dag_id, run_id, task_id, target, details from audit_log order by id`);
    return result.rows;
  }

  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: PROC_DAGS, scheduler: false, workers: {} });
  });
  afterAll(async () => {
    await children.killAll();
    await harness?.close();
  });

  it('trigger, pause, unpause, clear and pools set each leave one entry naming the CLI user', async () => {
    const triggered = await cli('dags', 'trigger', 'proc_cli', '--conf', '{"x":1}', '--json');
    expect(triggered.code, triggered.stderr).toBe(0);
    const { runId } = parseJson<{ runId: string }>(triggered);
    expect((await cli('dags', 'pause', 'proc_cli')).code).toBe(0);
    expect((await cli('dags', 'unpause', 'proc_cli')).code).toBe(0);
    const cleared = await cli('tasks', 'clear', 'proc_cli', runId, 'extract', '--downstream');
    expect(cleared.code, cleared.stderr).toBe(0);
    expect((await cli('pools', 'set', 'cli_audit_pool', '--slots', '3')).code).toBe(0);

    const rows = await audit();
    expect(rows.map((r) => r.action)).toEqual(['dag.trigger', 'dag.pause', 'dag.unpause', 'task.clear', 'pool.set']);
    for (const row of rows) expect({ actor: row.actor, auth: row.auth }).toEqual({ actor, auth: 'cli' });
    expect(rows[0]).toMatchObject({ dag_id: 'proc_cli', details: { runId } });
    expect(rows[3]).toMatchObject({ dag_id: 'proc_cli', run_id: runId, task_id: 'extract' });
    expect(rows[4]).toMatchObject({ target: 'cli_audit_pool', details: { slots: 3 } });
    const run = await harness.runtime.db.execute<{ triggered_by: string }>(sql`select triggered_by from dag_run where run_id = ${runId}`);
    expect(run.rows[0]?.triggered_by).toBe(actor);
  });

  it('a refused write leaves no entry', async () => {
    const before = (await audit()).length;
    const result = await cli('dags', 'trigger', 'no_such_dag');
    expect(result.code).toBe(2);
    expect((await audit()).length).toBe(before);
  });
});
