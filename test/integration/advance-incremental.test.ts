import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { inTransaction, lockDags } from '../../core/db/transaction.ts';
import { insertDagRun } from '../../core/scheduler/dag-runs.ts';
import { upsertDags } from '../../core/scheduler/dag-sync.ts';
import { advanceRuns } from '../../core/state/advance.ts';
import { startQueuedRuns } from '../../core/state/run-start.ts';
import { clearTaskInstances } from '../../core/state/task-actions.ts';
import { finishTries, startTries, type TryOutcome } from '../../core/state/task-tries.ts';
import { dag, task, type AnyTaskHandle, type Dag, type TriggerRule } from '../../core/sdk/index.ts';
import { useTestDatabase } from '../support/database.ts';
import { rng } from '../support/rng.ts';

/**
 * The worker's event-driven advance (advanceRuns with the finished tries, including the path
 * that decides a chain without reading) must decide exactly what the full pass decides. Two
 * identical DAGs get the same tries, finished in the same batches with the same outcomes: one
 * advanced as the worker does, one by the full pass. Their task states must match after every
 * batch, and their runs must end the same way.
 */

type Shape = { taskId: string; upstream: string[]; rule: TriggerRule; retries: number }[];

function build(dagId: string, shape: Shape): Dag {
  return dag({ dagId, schedule: null, maxActiveTasks: 1000 }, () => {
    const handles = new Map<string, AnyTaskHandle>();
    for (const t of shape) {
      const handle = task({
        taskId: t.taskId,
        upstream: t.upstream.map((id) => handles.get(id)!),
        triggerRule: t.rule,
        retries: t.retries,
        retryDelay: 0,
        run: () => null,
      });
      handles.set(t.taskId, handle);
    }
  });
}


const RULES: TriggerRule[] = ['all_success', 'all_success', 'all_success', 'all_done', 'all_failed', 'one_success', 'one_failed', 'none_failed', 'none_failed_min_one_success', 'none_skipped', 'always'];

/** A random DAG: chains, fan-outs and fan-ins over `size` tasks. */
function randomShape(random: () => number, size: number): Shape {
  const shape: Shape = [];
  for (let i = 0; i < size; i += 1) {
    const upstream: string[] = [];
    if (i > 0) {
      const count = random() < 0.5 ? 1 : Math.floor(random() * 3);
      for (let k = 0; k < count; k += 1) {
        const candidate = `t${String(Math.floor(random() * i)).padStart(2, '0')}`;
        if (!upstream.includes(candidate)) upstream.push(candidate);
      }
      // Mostly chains: the previous task.
      if (random() < 0.5 && !upstream.includes(`t${String(i - 1).padStart(2, '0')}`)) upstream.push(`t${String(i - 1).padStart(2, '0')}`);
    }
    shape.push({
      taskId: `t${String(i).padStart(2, '0')}`,
      upstream,
      rule: upstream.length === 0 ? 'all_success' : RULES[Math.floor(random() * RULES.length)]!,
      retries: random() < 0.2 ? 1 : 0,
    });
  }
  return shape;
}

describe('event-driven advance decides as the full pass does', () => {
  const connection = useTestDatabase();

  async function states(dagRunId: number): Promise<Record<string, string>> {
    const rows = await connection.db.execute<{ task_id: string; state: string }>(
      sql`select task_id, state from task_instance where dag_run_id = ${dagRunId} order by task_id`,
    );
    return Object.fromEntries(rows.rows.map((r) => [r.task_id, r.state]));
  }

  async function runState(dagRunId: number): Promise<string> {
    const rows = await connection.db.execute<{ state: string }>(sql`select state from dag_run where id = ${dagRunId}`);
    return rows.rows[0]!.state;
  }

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`random DAG #${seed}: same states after every batch`, () => scenario(`r${seed}`, seed, randomShape(rng(seed * 7919), 24)));
  }

  it('a chain whose failed task is cleared alone: its decided downstream stays, the run ends at once', () =>
    scenario('chain', 1, [
      { taskId: 't00', upstream: [], rule: 'all_success', retries: 0 },
      { taskId: 't01', upstream: ['t00'], rule: 'all_success', retries: 0 },
      { taskId: 't02', upstream: ['t01'], rule: 'all_success', retries: 0 },
      { taskId: 't03', upstream: ['t02'], rule: 'all_success', retries: 0 },
    ], { 't01#1': 'failed' }));

  async function scenario(name: string, seed: number, shape: Shape, forced: Record<string, 'success' | 'failed'> = {}): Promise<void> {
    {
      const random = rng(seed);
      const fast = build(`adv_fast_${name}`, shape);
      const full = build(`adv_full_${name}`, shape);
      const dags = { get: (dagId: string) => (dagId === fast.dagId ? fast : dagId === full.dagId ? full : undefined) };
      const db = connection.db;
      const runs: Record<'fast' | 'full', number> = { fast: 0, full: 0 };
      for (const [key, d] of [['fast', fast], ['full', full]] as const) {
        runs[key] = await inTransaction(db, async (tx) => {
          await upsertDags(tx, [d]);
          const run = await insertDagRun(tx, { dagId: d.dagId, runType: 'manual', logicalDate: new Date(Date.UTC(2024, 0, 1)), dataInterval: { start: new Date(0), end: new Date(0) } });
          await startQueuedRuns(tx, dags, [d.dagId]);
          return run!.id;
        });
      }
      // Outcome of each try: decided by task and try number, the same for both DAGs.
      const outcomeOf = new Map<string, 'success' | 'failed'>(Object.entries(forced));
      const outcome = (taskId: string, tryNumber: number) => {
        const key = `${taskId}#${tryNumber}`;
        if (!outcomeOf.has(key)) outcomeOf.set(key, random() < 0.7 ? 'success' : 'failed');
        return outcomeOf.get(key)!;
      };

      const drive = async () => {
        for (let step = 0; step < 200; step += 1) {
          const fastStates = await states(runs.fast);
          expect(fastStates).toEqual(await states(runs.full));
          // The run ends in the same step too: nothing here runs the scheduler's safety net.
          expect(await runState(runs.fast)).toBe(await runState(runs.full));
          if ((await runState(runs.fast)) !== 'running') return;
          const queued = Object.entries(fastStates).filter(([, state]) => state === 'queued').map(([taskId]) => taskId);
          expect(queued.length, `step ${step}: nothing queued in a running run: ${JSON.stringify(fastStates)}`).toBeGreaterThan(0);
          // A random non-empty batch of the queued tasks, finished together.
          const batch = queued.filter(() => random() < 0.6);
          if (batch.length === 0) batch.push(queued[0]!);
          for (const [key, d] of [['fast', fast], ['full', full]] as const) {
            await finishBatch(runs[key], d, key === 'fast', batch);
          }
        }
      };
      const finishBatch = async (dagRunId: number, d: Dag, eventDriven: boolean, batch: string[]) => {
        const tries = await db.execute<{ task_id: string; try_number: number }>(
          sql`select task_id, try_number from task_instance where dag_run_id = ${dagRunId} and task_id = any(${sql.param(batch)}::text[])`,
        );
        const started = await startTries(
          db,
          tries.rows.map((t) => ({ dagRunId, taskId: t.task_id, tryNumber: t.try_number, startDate: new Date(), hostname: 'test', pid: 1 })),
        );
        expect(started).toHaveLength(batch.length);
        const outcomes: TryOutcome[] = tries.rows.map((t) => ({
          dagRunId,
          dagId: d.dagId,
          taskId: t.task_id,
          tryNumber: t.try_number,
          outcome: outcome(t.task_id, t.try_number),
          endDate: new Date(),
          output: null,
          error: null,
          retryDelayMs: 0,
        }));
        await inTransaction(
          db,
          async (tx) => {
            const finished = await finishTries(tx, outcomes);
            const ids = finished.map((f) => f.dagRunId);
            if (eventDriven) {
              await advanceRuns(tx, dags, ids, {}, finished.map((f) => ({ dagRunId: f.dagRunId, dagId: d.dagId, taskId: f.taskId, state: f.state })));
            } else {
              await advanceRuns(tx, dags, ids);
            }
          },
          { lockDags: [d.dagId] },
        );
      };

      await drive();
      // Clear a failed task alone (not its downstream, which stays decided), as an operator may:
      // its next try succeeds, and the run must end in the same step either way.
      const ended = await states(runs.fast);
      const failedTasks = Object.entries(ended).filter(([taskId, state]) => state === 'failed' && fast.downstreamOf(taskId).length > 0).map(([taskId]) => taskId);
      // Preferably one with a downstream task that waits on it alone (decided upstream_failed).
      const failed = failedTasks.find((taskId) => fast.downstreamOf(taskId).some((d) => fast.task(d).upstreamIds.length === 1)) ?? failedTasks[0];
      if (failed) {
        for (const [key, d] of [['fast', fast], ['full', full]] as const) {
          await inTransaction(db, async (tx) => {
            await lockDags(tx, [d.dagId]);
            await clearTaskInstances(tx, d, runs[key], [failed]);
            await startQueuedRuns(tx, dags, [d.dagId]);
          });
        }
        const tryNumber = (await db.execute<{ try_number: number }>(sql`select try_number from task_instance where dag_run_id = ${runs.fast} and task_id = ${failed}`)).rows[0]!.try_number;
        outcomeOf.set(`${failed}#${tryNumber}`, 'success');
        await drive();
      }
      expect(await runState(runs.fast)).not.toBe('running');
      expect(await runState(runs.fast)).toBe(await runState(runs.full));
      expect(await states(runs.fast)).toEqual(await states(runs.full));
    }
  }
});
