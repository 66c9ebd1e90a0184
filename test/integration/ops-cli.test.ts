/**
 * The CLI refuses what it used to take or crash on: `runs list` of a DAG nobody knows (it listed
 * nothing and exited 0) and a `--conf` nested thousands of levels deep (a stack overflow, exit 1
 * with a stack). A known DAG without runs still lists nothing and exits 0, and an unknown DAG's
 * message keeps naming the DAGs folder on the CLI (the operator's own machine).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../core/json-input.ts';
import { runFlywheel } from '../support/cli.ts';
import { Harness } from '../support/harness.ts';

const INPUT_DAGS = fileURLToPath(new URL('../fixtures/dags-input', import.meta.url));

describe('CLI reads of unknown DAGs and deep --conf', { timeout: 240_000 }, () => {
  let harness: Harness;
  /** A DAGs folder with one DAG the database has not seen. */
  let folderOnly: string;
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runFlywheel(args, { env: { ...harness.childEnv(), ...env }, timeoutMs: 90_000 });

  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: INPUT_DAGS, scheduler: false, workers: {} });
    folderOnly = await mkdtemp(path.join(os.tmpdir(), 'flywheel-ops-cli-'));
    await writeFile(
      path.join(folderOnly, 'folder_only.ts'),
      "import { dag, task } from 'flywheel';\nexport default dag({ dagId: 'folder_only', schedule: null }, () => {\n  task({ taskId: 't', run: () => null });\n});\n",
    );
  });
  afterAll(async () => {
    await harness?.close();
    if (folderOnly) await rm(folderOnly, { recursive: true, force: true });
  });

  it('runs list of an unknown DAG exits 2 naming it; a known DAG without runs lists nothing and exits 0', async () => {
    const [unknown, unknownElsewhere, inDatabase, inFolderOnly, trigger] = await Promise.all([
      cli(['runs', 'list', 'no_such_dag', '--json']),
      cli(['runs', 'list', 'no_such_dag'], { DAGS_FOLDER: folderOnly }),
      // Known to the database, not to this folder (a DAG file removed since), without runs.
      cli(['runs', 'list', 'input_checked', '--json'], { DAGS_FOLDER: folderOnly }),
      // Known to the folder, not yet to the database.
      cli(['runs', 'list', 'folder_only', '--json'], { DAGS_FOLDER: folderOnly }),
      cli(['dags', 'trigger', 'no_such_dag', '--json']),
    ]);
    expect(unknown.code, unknown.stderr).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^error: DAG "no_such_dag" is not defined in .*dags-input$/m);
    expect(unknownElsewhere.code, unknownElsewhere.stderr).toBe(2);
    expect(unknownElsewhere.stderr).toContain(`error: DAG "no_such_dag" is not defined in ${folderOnly}`);
    for (const known of [inDatabase, inFolderOnly]) {
      expect(known.code, known.stderr).toBe(0);
      expect((JSON.parse(known.stdout) as { runs: unknown[] }).runs).toEqual([]);
    }
    // The message of the other commands is unchanged: the folder, on the operator's machine.
    expect(trigger.code).toBe(2);
    expect(trigger.stderr).toMatch(/^error: DAG "no_such_dag" is not defined in .*dags-input$/m);
  });

  it('a --conf nested 2,000 levels deep exits 2 with the limit, without a stack or a run', async () => {
    let conf = '1';
    for (let k = 0; k < 2000; k++) conf = `{"a":${conf}}`;
    const [trigger, dagTest] = await Promise.all([
      cli(['dags', 'trigger', 'input_checked', '--conf', conf]),
      cli(['dags', 'test', 'input_checked', '--conf', conf]),
    ]);
    for (const outcome of [trigger, dagTest]) {
      expect(outcome.code, outcome.stderr).toBe(2);
      expect(outcome.stderr.trim()).toBe(`error: --conf: nested deeper than ${MAX_JSON_DEPTH} levels (the limit)`);
    }
    const runs = await harness.db.execute<{ n: number }>(sql`select count(*)::int as n from dag_run`);
    expect(runs.rows[0]!.n).toBe(0);
  });
});
