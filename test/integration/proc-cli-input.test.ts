/**
 * Bad input to the CLI (`node bin/flywheel.js …` as a child process) exits 2 with the reason on
 * stderr and changes nothing, whether commander rejects it (usage, invalid option values) or
 * Flywheel does (a conf the DAG rejects, a duplicate logical date); --help still exits 0.
 */
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.ts';
import { Children, parseJson, runCli, type CliResult } from './proc-support.ts';

const INPUT_DAGS = fileURLToPath(new URL('../fixtures/dags-input', import.meta.url));

describe('CLI bad input', { timeout: 120_000 }, () => {
  let harness: Harness;
  const children = new Children();
  const cli = (...args: string[]) => runCli(children, args, harness.childEnv());
  const runCount = async () => (await harness.db.execute<{ n: number }>(sql`select count(*)::int as n from dag_run`)).rows[0]!.n;

  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: INPUT_DAGS });
  });
  afterAll(async () => {
    await children.killAll();
    await harness?.close();
  });

  function expectRejected(result: CliResult, message: RegExp) {
    expect({ code: result.code, stdout: result.stdout }, result.stderr).toEqual({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(message);
  }

  it("commander's usage and validation errors exit 2; --help exits 0", async () => {
    const before = await runCount();
    const [array, notJson, badDate, badRole, missingArg, missingOption, unknownOption, extraArg, noCommand] = await Promise.all([
      cli('dags', 'trigger', 'input_checked', '--conf', '[1]'),
      cli('dags', 'trigger', 'input_checked', '--conf', 'notjson'),
      cli('dags', 'trigger', 'input_checked', '--logical-date', 'notadate'),
      cli('users', 'create', 'x', '--role', 'superuser'),
      cli('dags', 'trigger'),
      cli('dags', 'backfill', 'input_checked', '--from', '2026-01-01'),
      cli('runs', 'list', 'input_checked', '--bogus'),
      cli('dags', 'trigger', 'input_checked', 'extra'),
      cli('dags'),
    ]);
    expectRejected(array, /option '--conf <json>' argument '\[1\]' is invalid\. must be a JSON object/);
    expectRejected(notJson, /option '--conf <json>' argument 'notjson' is invalid\. not JSON: /);
    expectRejected(badDate, /"notadate" is not an ISO 8601 date/);
    expectRejected(badRole, /option '--role <role>' argument 'superuser' is invalid/);
    expectRejected(missingArg, /missing required argument 'dagId'/);
    expectRejected(missingOption, /required option '--to <iso>' not specified/);
    expectRejected(unknownOption, /unknown option '--bogus'/);
    expectRejected(extraArg, /too many arguments/);
    expectRejected(noCommand, /Usage: flywheel dags/);
    expect(await runCount()).toBe(before);

    for (const args of [['--help'], ['dags', '--help'], ['dags', 'trigger', '--help'], ['users', 'create', '--help']]) {
      const help = await cli(...args);
      expect({ args, code: help.code }, help.stderr).toEqual({ args, code: 0 });
      expect(help.stdout).toMatch(/^Usage: flywheel/);
    }
  });

  it('`dags trigger` with a conf the DAG rejects exits 2 with its reason, and creates no run', async () => {
    const before = await runCount();
    const rejected = await cli('dags', 'trigger', 'input_checked', '--conf', '{"members":0}', '--json');
    expectRejected(rejected, /^error: conf rejected by DAG "input_checked": members must be a positive integer, not 0$/m);
    expect(await runCount()).toBe(before);
    const accepted = await cli('dags', 'trigger', 'input_checked', '--conf', '{"members":2}', '--json');
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(parseJson(accepted)).toMatchObject({ dagId: 'input_checked' });
  });

  it('`dags trigger --logical-date` twice with the same date exits 2 the second time', async () => {
    const first = await cli('dags', 'trigger', 'input_checked', '--logical-date', '2026-02-01T00:00:00Z', '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(parseJson(first)).toMatchObject({ runId: 'manual__2026-02-01T00:00:00.000Z' });
    const before = await runCount();
    const again = await cli('dags', 'trigger', 'input_checked', '--logical-date', '2026-02-01T00:00:00Z', '--json');
    expectRejected(again, /^error: DAG "input_checked" already has a run for logical date 2026-02-01T00:00:00.000Z/m);
    expect(await runCount()).toBe(before);
  });
});
