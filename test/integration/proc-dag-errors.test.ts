/**
 * DAG files that cannot be loaded: each is reported (file, DAG, task) while the good ones load,
 * in the DagBag, in the scheduler's `import_error` / `dag` tables and in `flywheel dags list`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDags, listImportErrors } from '../../core/db/queries/dags.ts';
import { DagBag } from '../../core/loader/dag-bag.ts';
import { Harness } from '../support/harness.ts';
import { Children, parseJson, runCli } from './proc-support.ts';

const BAD_DAGS = fileURLToPath(new URL('../fixtures/bad-dags', import.meta.url));
const BAD_DAGS_MORE = fileURLToPath(new URL('../fixtures/bad-dags-more', import.meta.url));

/** What each broken file in bad-dags-more must be reported with: every fragment, in the message for that file. */
const EXPECTED_MORE: Record<string, RegExp[]> = {
  'duplicate_task.ts': [/DAG "duplicate_task"/, /task "load"/, /duplicate taskId/],
  'unknown_upstream.ts': [/DAG "unknown_upstream"/, /task "transform"/, /unknown upstream "missing"/],
  'bad_cron.ts': [/DAG "bad_cron"/, /cron schedule "61 \* \* \* \*" is invalid/],
  'bad_timezone.ts': [/DAG "bad_timezone"/, /timezone "Mars\/Olympus_Mons" is not an IANA timezone/],
  'no_default_export.ts': [/has no default export of dag\(\.\.\.\)/],
  'z_duplicate_dag_id.ts': [/dagId "good_more" is already defined in .*good_more\.ts/],
};

function expectReported(errors: readonly { file: string; message: string }[], folder: string, expected: Record<string, RegExp[]>) {
  expect(errors.map((e) => path.basename(e.file)).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, fragments] of Object.entries(expected)) {
    const error = errors.find((e) => e.file === path.join(folder, name))!;
    expect(error.message, name).toContain(name); // the message itself names the file
    for (const fragment of fragments) expect(error.message, name).toMatch(fragment);
  }
}

describe('invalid DAG files', { timeout: 90_000 }, () => {
  it('DagBag over bad-dags: loads "good", reports the cycle (with its tasks) and the syntax error by file', async () => {
    const bag = await new DagBag({ folder: BAD_DAGS }).load();
    expect(bag.list().map((d) => d.dagId)).toEqual(['good']);
    expectReported(bag.errors, BAD_DAGS, {
      'cycle.ts': [/DAG "cycle"/, /task "a"/, /cycle: a → b → a/],
      // Under vitest the import goes through Vite's transform, whose parse error differs from tsx's
      // (the CLI test below checks the real one, with its line and column).
      'syntax.ts': [/Transform failed|PARSE_ERROR/, /Expected/],
    });
  });

  it('DagBag over bad-dags-more: one error per broken file, naming the file and the task where there is one', async () => {
    const bag = await new DagBag({ folder: BAD_DAGS_MORE }).load();
    expect(bag.list().map((d) => [d.dagId, path.basename(d.fileloc ?? '')])).toEqual([['good_more', 'good_more.ts']]);
    expect([...bag.get('good_more')!.tasks.keys()]).toEqual(['first', 'second']);
    expectReported(bag.errors, BAD_DAGS_MORE, EXPECTED_MORE);
    await expect(bag.require('bad_cron')).rejects.toThrow(/DAG "bad_cron" is not defined in .*\(.*bad_cron\.ts: DAG "bad_cron": cron schedule/);
  });

  describe('with a database', () => {
    let harness: Harness;
    const children = new Children();
    beforeAll(async () => {
      // scheduler: false runs one Scheduler.syncDags() and no loop.
      harness = await Harness.start({ dagsFolder: BAD_DAGS_MORE, workers: {}, scheduler: false });
    });
    afterAll(async () => {
      await children.killAll();
      await harness?.close();
    });

    it('Scheduler.syncDags() stores the good DAG in `dag` and every error in `import_error`', async () => {
      await harness.newScheduler().syncDags(); // a second sync replaces the rows, it does not add to them
      const dags = await listDags(harness.db, { includeInactive: true });
      expect(dags.map((d) => [d.dagId, d.isActive, d.schedule, path.basename(d.fileloc)])).toEqual([['good_more', true, '@daily', 'good_more.ts']]);
      const errors = await listImportErrors(harness.db);
      expectReported(
        errors.map((e) => ({ file: e.filename, message: e.message })),
        BAD_DAGS_MORE,
        EXPECTED_MORE,
      );
    });

    it('`flywheel dags list --json` prints the good DAG and the import errors, exit 0', async () => {
      const result = await runCli(children, ['dags', 'list', '--json'], { ...harness.childEnv(), DAGS_FOLDER: BAD_DAGS_MORE });
      expect(result.code, result.stderr).toBe(0);
      const listed = parseJson<{ dags: { dagId: string; tasks: number; isPaused: boolean; schedule: string; fileloc: string }[]; importErrors: { file: string; message: string }[] }>(result);
      expect(listed.dags).toEqual([
        expect.objectContaining({ dagId: 'good_more', tasks: 2, isPaused: false, schedule: '@daily', fileloc: path.join(BAD_DAGS_MORE, 'good_more.ts') }),
      ]);
      expectReported(listed.importErrors, BAD_DAGS_MORE, EXPECTED_MORE);

      // Through tsx, as in production: the syntax error comes with its line and column.
      const bad = await runCli(children, ['dags', 'list', '--json'], { ...harness.childEnv(), DAGS_FOLDER: BAD_DAGS });
      expect(bad.code, bad.stderr).toBe(0);
      const badListed = parseJson<{ dags: { dagId: string }[]; importErrors: { file: string; message: string }[] }>(bad);
      expect(badListed.dags.map((d) => d.dagId)).toEqual(['good']);
      expectReported(badListed.importErrors, BAD_DAGS, {
        'cycle.ts': [/DAG "cycle"/, /task "a"/, /cycle: a → b → a/],
        'syntax.ts': [/syntax\.ts:2:37: ERROR: Expected "}" but found "schedule"/],
      });

      const human = await runCli(children, ['dags', 'list'], { ...harness.childEnv(), DAGS_FOLDER: BAD_DAGS_MORE });
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toMatch(/good_more\s+@daily/);
      expect(human.stdout.split('\n').filter((line) => line.startsWith('import error: '))).toHaveLength(Object.keys(EXPECTED_MORE).length);
    });
  });
});
