/**
 * Scheduler processes that die, restart or race each other: real `flywheel scheduler`
 * children and in-process schedulers on one PostgreSQL database and one set of BullMQ queues.
 */
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, type HarnessOptions } from '../support/harness.ts';
import { Children, PROC_DAGS, linesOf, pause, tempDir, waitFor } from './proc-support.ts';

const HOUR = 3_600_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(options: HarnessOptions) {
  const harness = await Harness.start({ dagsFolder: PROC_DAGS, ...options });
  cleanups.push(() => harness.close());
  const tmp = await tempDir('proc-scheduler');
  cleanups.push(tmp.remove);
  const children = new Children();
  cleanups.push(() => children.killAll());
  return { harness, dir: tmp.dir, children };
}

/** Every task instance of these runs with its try number and how many task_try rows it has. */
async function triesPerInstance(harness: Harness, dagRunIds: readonly number[]) {
  const result = await harness.db.execute<{ dag_run_id: number; task_id: string; state: string; try_number: number; tries: number; ok_tries: number }>(sql`
    select ti.dag_run_id, ti.task_id, ti.state, ti.try_number,
           count(tt.try_number)::int as tries, count(tt.try_number) filter (where tt.state = 'success')::int as ok_tries
    from task_instance ti left join task_try tt on tt.dag_run_id = ti.dag_run_id and tt.task_id = ti.task_id
    where ti.dag_run_id = any(${sql.param([...dagRunIds])}::bigint[])
    group by ti.dag_run_id, ti.task_id, ti.state, ti.try_number
    order by ti.dag_run_id, ti.task_id
  `);
  return result.rows;
}

/** A pino logger that keeps what it writes, for checking that a scheduler logged no errors. */
function collectingLogger(name: string) {
  const lines: { level: number; msg: string; err?: unknown }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as (typeof lines)[number]);
      done();
    },
  });
  return { logger: pino({ name, level: 'warn' }, stream), lines };
}

describe('a scheduler process killed and restarted mid-run', { timeout: 120_000 }, () => {
  it('leaves running runs to event-driven progress, and a new scheduler finishes the rest without re-running a task', async () => {
    const { harness, dir, children } = await setUp({ scheduler: false, workers: { default: 2 } });
    const first = children.start(['scheduler'], harness.childEnv());
    // Two runs of a DAG with maxActiveRuns 1: only a scheduler starts them (startNow: false).
    const runA = await harness.trigger('proc_sched_chain', { conf: { dir }, startNow: false, logicalDate: new Date(Date.now() - 60_000) });
    const runB = await harness.trigger('proc_sched_chain', { conf: { dir }, startNow: false });
    expect([runA.state, runB.state]).toEqual(['queued', 'queued']);

    await waitFor('task "slow" of run A to be running', async () => (await harness.taskStates(runA.dagRunId)).slow === 'running', {
      timeoutMs: 30_000,
      needs: [first],
    });
    first.signal('SIGKILL');
    expect(await first.waitExit(10_000)).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await harness.run('proc_sched_chain', runB.runId))?.state).toBe('queued');

    // Without any scheduler, the workers' event-driven step still carries run A to its end:
    // slow → last is queued by the worker that finished slow, and the run is finished by last's worker.
    expect((await harness.waitForRun(runA.dagRunId, { timeoutMs: 15_000 })).state).toBe('success');
    // Starting a queued run is the scheduler's job: run B waits (many scheduler intervals).
    await pause(1500);
    expect((await harness.run('proc_sched_chain', runB.runId))?.state).toBe('queued');
    expect(await harness.taskInstances(runB.dagRunId)).toEqual([]);

    const second = children.start(['scheduler'], harness.childEnv());
    expect((await harness.waitForRun(runB.dagRunId, { timeoutMs: 30_000 })).state).toBe('success');
    expect(second.alive).toBe(true);

    const rows = await triesPerInstance(harness, [runA.dagRunId, runB.dagRunId]);
    expect(rows).toHaveLength(6);
    for (const row of rows) expect(row, `${row.dag_run_id}/${row.task_id}`).toMatchObject({ state: 'success', try_number: 1, tries: 1, ok_tries: 1 });
    for (const taskId of ['first', 'slow', 'last']) expect(linesOf(dir, `${taskId}.log`).sort(), taskId).toEqual([runA.runId, runB.runId].sort());
    // The restarted scheduler logged no errors.
    expect(second.stderr).not.toMatch(/"level":(50|60)/);
  });

  it('leaves a retry due while no scheduler runs until a scheduler is back, then runs it once', async () => {
    const { harness, dir, children } = await setUp({ scheduler: false, workers: { default: 2 } });
    const first = children.start(['scheduler'], harness.childEnv());
    const run = await harness.trigger('proc_sched_retry', { conf: { dir }, startNow: false });
    const failed = await waitFor('try 1 of "flaky" to fail', async () => (await harness.taskInstances(run.dagRunId)).find((t) => t.taskId === 'flaky' && t.state === 'up_for_retry'), {
      timeoutMs: 30_000,
      needs: [first],
    });
    first.signal('SIGKILL');
    await first.waitExit(10_000);
    const flaky = (await harness.taskInstances(run.dagRunId)).find((t) => t.taskId === 'flaky')!;
    // Guard: the kill came before the retry was due (retryDelay 2 s), so no scheduler queued it.
    expect(flaky, 'the scheduler queued the retry before it was killed; the test proves nothing').toMatchObject({ state: 'up_for_retry', tryNumber: 1 });
    const dueAt = failed.nextRetryAt!.getTime();

    await waitFor('the retry to be overdue by 1 s', () => Date.now() > dueAt + 1000, { timeoutMs: 10_000 });
    expect((await harness.taskInstances(run.dagRunId)).find((t) => t.taskId === 'flaky')).toMatchObject({ state: 'up_for_retry', tryNumber: 1 });
    expect(linesOf(dir, 'flaky.log')).toEqual(['try 1']);

    children.start(['scheduler'], harness.childEnv());
    expect((await harness.waitForRun(run.dagRunId, { timeoutMs: 30_000 })).state).toBe('success');
    const rows = await triesPerInstance(harness, [run.dagRunId]);
    expect(rows.map((r) => [r.task_id, r.state, r.try_number, r.tries, r.ok_tries])).toEqual([
      ['after', 'success', 1, 1, 1],
      ['flaky', 'success', 2, 2, 1],
    ]);
    expect(linesOf(dir, 'flaky.log')).toEqual(['try 1', 'try 2']);
    expect(linesOf(dir, 'after.log')).toEqual(['try 1']);
  });
});

describe('several schedulers racing on one database', { timeout: 150_000 }, () => {
  const previousStart = process.env.PROC_RACE_START_DATE;
  afterEach(() => {
    if (previousStart === undefined) delete process.env.PROC_RACE_START_DATE;
    else process.env.PROC_RACE_START_DATE = previousStart;
  });

  it('create each scheduled interval once and run each task once, also with 20 manual runs triggered at the same time', async () => {
    // Pinned, so this process and the child scheduler (which inherits the environment) agree.
    const start = new Date(Math.floor(Date.now() / HOUR) * HOUR - 30 * HOUR);
    process.env.PROC_RACE_START_DATE = start.toISOString();
    const { harness, children } = await setUp({ scheduler: false, workers: { default: 8 } });
    const logs = [collectingLogger('scheduler-1'), collectingLogger('scheduler-2'), collectingLogger('one-shot')];
    const child = children.start(['scheduler'], { ...harness.childEnv(), FLYWHEEL_LOG_LEVEL: 'info' });
    // The child's loop is running (it logs this as its first pass starts) before the others join.
    await waitFor('the child scheduler to start', () => child.stderr.includes('scheduler started'), { timeoutMs: 30_000, needs: [child] });

    // Then, all at once: two more scheduler loops, five one-shot passes creating the scheduled
    // runs concurrently, and 20 manual runs.
    for (const { logger } of logs.slice(0, 2)) harness.startScheduler({ logger });
    const oneShot = Array.from({ length: 5 }, () => harness.newScheduler({ logger: logs[2]!.logger }).createScheduledRuns());
    const base = Date.now();
    const triggers = Array.from({ length: 20 }, (_, i) => harness.trigger('proc_race', { logicalDate: new Date(base + i), conf: { i } }));
    const [manual] = await Promise.all([Promise.all(triggers), Promise.all(oneShot)]);
    expect(new Set(manual.map((m) => m.runId)).size).toBe(20);

    const completeIntervals = () => Math.floor((Date.now() - start.getTime()) / HOUR);
    const countRuns = async () => {
      const result = await harness.db.execute<{ scheduled: number; manual: number; unfinished: number }>(sql`
        select count(*) filter (where run_type = 'scheduled')::int as scheduled, count(*) filter (where run_type = 'manual')::int as manual,
               count(*) filter (where state not in ('success', 'failed'))::int as unfinished
        from dag_run where dag_id = 'proc_race'
      `);
      return result.rows[0]!;
    };
    await waitFor(
      'every interval to have its run and every run to finish',
      async () => {
        const counts = await countRuns();
        return counts.scheduled >= completeIntervals() && counts.manual === 20 && counts.unfinished === 0;
      },
      { timeoutMs: 90_000, intervalMs: 200, needs: [child], detail: async () => `${JSON.stringify(await countRuns())}, expected ${completeIntervals()} scheduled\n${child.describe()}` },
    );
    // Let all three schedulers make several more passes: nothing new may appear.
    await pause(1000);

    const runs = await harness.db.execute<{ id: number; run_type: string; logical_date: Date; state: string }>(
      sql`select id, run_type, logical_date, state from dag_run where dag_id = 'proc_race' order by run_type, logical_date`,
    );
    const scheduled = runs.rows.filter((r) => r.run_type === 'scheduled');
    const expected = completeIntervals();
    expect(expected).toBeGreaterThanOrEqual(30);
    expect(scheduled.map((r) => new Date(r.logical_date).toISOString())).toEqual(
      Array.from({ length: expected }, (_, k) => new Date(start.getTime() + k * HOUR).toISOString()),
    );
    const [dagRow] = (await harness.db.execute<{ next_dagrun: Date }>(sql`select next_dagrun from dag where dag_id = 'proc_race'`)).rows;
    expect(new Date(dagRow!.next_dagrun).toISOString()).toBe(new Date(start.getTime() + expected * HOUR).toISOString());
    expect(runs.rows.filter((r) => r.run_type === 'manual')).toHaveLength(20);
    expect(runs.rows.filter((r) => r.state !== 'success')).toEqual([]);

    const rows = await triesPerInstance(harness, runs.rows.map((r) => r.id));
    expect(rows).toHaveLength(runs.rows.length * 4);
    const wrong = rows.filter((r) => r.state !== 'success' || r.try_number !== 1 || r.tries !== 1 || r.ok_tries !== 1);
    expect(wrong).toEqual([]);

    // Nobody lost a race noisily: no scheduler logged an error (a deadlock, a unique violation…).
    expect(child.alive).toBe(true);
    expect(child.stderr).not.toMatch(/"level":(50|60)/);
    for (const { lines } of logs) expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });
});
