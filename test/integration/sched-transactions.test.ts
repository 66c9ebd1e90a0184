import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { Queryable } from '../../core/db/client.ts';
import { executeNamed, namedStatement } from '../../core/db/named-statements.ts';
import { inTransaction, transactionClient } from '../../core/db/transaction.ts';
import { insertDagRun } from '../../core/scheduler/dag-runs.ts';
import { upsertDags } from '../../core/scheduler/dag-sync.ts';
import { dag, task } from '../../core/sdk/index.ts';
import { advanceRuns } from '../../core/state/advance.ts';
import { startQueuedRuns } from '../../core/state/run-start.ts';
import { finishTries, startTries } from '../../core/state/task-tries.ts';
import { useTestDatabase } from '../support/database.ts';

/**
 * The one transaction helper: retries on deadlock / serialization failure only, rolls back, takes
 * the DAG locks it is asked for; and the fast path of state-machine steps (named prepared
 * statements with generic plans) is taken where it should be, and only there.
 */

type PreparedStatement = { name: string; statement: string; generic_plans: number; custom_plans: number };

/** The named statements prepared on the connection of `tx` (PostgreSQL lists them per session). */
async function prepared(tx: Queryable): Promise<PreparedStatement[]> {
  const result = await tx.execute<PreparedStatement>(
    sql`select name, statement, generic_plans::int as generic_plans, custom_plans::int as custom_plans from pg_prepared_statements where name like 'fw\\_%'`,
  );
  return result.rows;
}

/** A query whose text no other test uses, so its statement name is new on every connection. */
function uniqueQuery() {
  return sql`select ${41}::int + 1 as answer, ${sql.raw(`'${randomUUID()}'`)}::text as tag`;
}

describe('inTransaction', () => {
  const connection = useTestDatabase();

  it('runs the work again after a deadlock or a serialization failure, and only then', async () => {
    for (const code of ['40P01', '40001']) {
      let calls = 0;
      const result = await inTransaction(connection.db, async () => {
        calls += 1;
        if (calls === 1) throw Object.assign(new Error(`aborted (${code})`), { code });
        return 'done';
      });
      expect(result).toBe('done');
      expect(calls).toBe(2);
    }
    let calls = 0;
    await expect(
      inTransaction(connection.db, async () => {
        calls += 1;
        throw Object.assign(new Error('unique violation'), { code: '23505' });
      }),
    ).rejects.toThrow('unique violation');
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      inTransaction(
        connection.db,
        async () => {
          calls += 1;
          throw Object.assign(new Error('deadlock'), { code: '40P01' });
        },
        { attempts: 3 },
      ),
    ).rejects.toThrow('deadlock');
    expect(calls).toBe(3);
  });

  it('rolls back what a failed attempt wrote', async () => {
    let calls = 0;
    await inTransaction(connection.db, async (tx) => {
      calls += 1;
      await tx.execute(sql`insert into pool (name, slots) values (${`tx_pool_${calls}`}, 1)`);
      if (calls === 1) throw Object.assign(new Error('deadlock'), { code: '40P01' });
    });
    const pools = await connection.db.execute<{ name: string }>(sql`select name from pool where name like 'tx\\_pool\\_%' order by name`);
    expect(pools.rows.map((row) => row.name)).toEqual(['tx_pool_2']);
  });

  it("hands out its pg client for what drizzle cannot do; what that client writes is part of the transaction", async () => {
    expect(transactionClient(connection.db)).toBeUndefined();
    let calls = 0;
    await expect(
      inTransaction(connection.db, async (tx) => {
        calls += 1;
        const client = transactionClient(tx)!;
        await client.query('insert into pool (name, slots) values ($1, 1)', [`raw_pool_${calls}`]);
        // A non-retryable failure: the whole transaction, the raw client's insert too, is undone.
        throw Object.assign(new Error('check violation'), { code: '23514' });
      }),
    ).rejects.toThrow('check violation');
    const pools = await connection.db.execute<{ name: string }>(sql`select name from pool where name like 'raw\\_pool\\_%'`);
    expect(pools.rows).toEqual([]);
  });

  it('holds the dag row locks it is asked for until it ends', async () => {
    const d = dag({ dagId: 'tx_locked', schedule: null }, () => {
      task({ taskId: 'a', run: () => null });
    });
    await inTransaction(connection.db, (tx) => upsertDags(tx, [d]));
    const other = new pg.Client({ connectionString: connection.url });
    await other.connect();
    try {
      const tryLock = () => other.query(`select dag_id from dag where dag_id = 'tx_locked' for update nowait`);
      await inTransaction(
        connection.db,
        async () => {
          await expect(tryLock()).rejects.toMatchObject({ code: '55P03' }); // lock_not_available
        },
        { lockDags: ['tx_locked'] },
      );
      expect((await tryLock()).rows).toEqual([{ dag_id: 'tx_locked' }]);
    } finally {
      await other.end();
    }
  });
});

describe('executeNamed: named prepared statements in state-machine steps', () => {
  const connection = useTestDatabase();

  it('prepares a statement once per connection, with a generic plan, in a transaction opened with lockDags', async () => {
    const query = uniqueQuery();
    const { name } = namedStatement(query);
    expect(name).toMatch(/^fw_[0-9a-f]{20}$/);
    await inTransaction(
      connection.db,
      async (tx) => {
        expect((await executeNamed(tx, query)).rows).toEqual([{ answer: 42, tag: expect.any(String) }]);
        expect((await executeNamed(tx, query)).rows).toHaveLength(1);
        const mine = (await prepared(tx)).filter((s) => s.name === name);
        // Prepared once, run twice on its generic plan (plan_cache_mode = force_generic_plan).
        expect(mine).toEqual([expect.objectContaining({ name, generic_plans: 2, custom_plans: 0 })]);
      },
      { lockDags: [] },
    );
  });

  it('prepares nothing anywhere else: a plain transaction, or the database handle', async () => {
    const query = uniqueQuery();
    const { name } = namedStatement(query);
    expect((await executeNamed(connection.db, query)).rows).toEqual([{ answer: 42, tag: expect.any(String) }]);
    await inTransaction(connection.db, async (tx) => {
      expect((await executeNamed(tx, query)).rows).toHaveLength(1);
      expect((await prepared(tx)).filter((s) => s.name === name)).toEqual([]);
    });
  });

  it("the worker's step (finish tries, advance their runs) runs its reads and its queueing statement as named statements", async () => {
    const d = dag({ dagId: 'tx_named', schedule: null }, () => {
      const a = task({ taskId: 'a', run: () => null });
      task({ taskId: 'b', upstream: [a], run: () => null });
    });
    const dags = { get: (dagId: string) => (dagId === d.dagId ? d : undefined) };
    const dagRunId = await inTransaction(connection.db, async (tx) => {
      await upsertDags(tx, [d]);
      const run = await insertDagRun(tx, { dagId: d.dagId, runType: 'manual', logicalDate: new Date(Date.UTC(2024, 0, 1)), dataInterval: { start: new Date(0), end: new Date(0) } });
      await startQueuedRuns(tx, dags, [d.dagId]);
      return run!.id;
    });
    expect(await startTries(connection.db, [{ dagRunId, taskId: 'a', tryNumber: 1, startDate: new Date(), hostname: 'test', pid: 1 }])).toHaveLength(1);
    const outcome = { dagRunId, dagId: d.dagId, taskId: 'a', tryNumber: 1, outcome: 'success' as const, endDate: new Date(), output: null, error: null, retryDelayMs: 0 };
    for (const hinted of [true, false]) {
      const statements = await inTransaction(
        connection.db,
        async (tx) => {
          const finished = await finishTries(tx, hinted ? [outcome] : []);
          const hints = finished.map((f) => ({ dagRunId: f.dagRunId, dagId: d.dagId, taskId: f.taskId, state: f.state }));
          const advanced = await advanceRuns(tx, dags, [dagRunId], {}, hinted ? hints : undefined);
          if (hinted) expect(advanced.queued.map((q) => [q.taskId, q.tryNumber])).toEqual([['b', 1]]);
          return prepared(tx);
        },
        { lockDags: [d.dagId] },
      );
      // The event-driven step (a chain: nothing read) and the full pass (the run's states read).
      const queueing = statements.filter((s) => s.statement.includes('with settled as materialized'));
      expect(queueing.length, JSON.stringify(statements)).toBeGreaterThan(0);
      if (!hinted) expect(statements.some((s) => s.statement.includes('json_object_agg(ti.task_id, ti.state) as states from task_instance ti where ti.dag_run_id = r.id'))).toBe(true);
      for (const s of statements) expect(s.custom_plans, s.statement).toBe(0);
    }
    const states = await connection.db.execute<{ task_id: string; state: string }>(sql`select task_id, state from task_instance where dag_run_id = ${dagRunId} order by task_id`);
    expect(states.rows).toEqual([
      { task_id: 'a', state: 'success' },
      { task_id: 'b', state: 'queued' },
    ]);
  });
});
