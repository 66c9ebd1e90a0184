import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { appendLogLines, type LogLine } from '../db/queries/task-logs.ts';
import type { JsonObject, JsonValue } from '../sdk/json.ts';
import type { TaskState } from '../sdk/states.ts';

/**
 * The life of one try, as compare-and-set statements: `queued` → `running` (startTries), its
 * heartbeat (heartbeatTries), and `running` → success | failed | up_for_retry (finishTries). Each
 * takes a batch, so concurrent tries of a worker share one statement (and one commit).
 */

/** The outcome of one finished try, as reported by a worker (or decided by the scheduler for a zombie). */
export interface TryOutcome {
  dagRunId: number;
  dagId: string;
  taskId: string;
  tryNumber: number;
  outcome: 'success' | 'failed';
  endDate: Date;
  output: JsonValue | null;
  error: string | null;
  /** Delay before the next try, used only when tries remain. */
  retryDelayMs: number;
  /** The try did not fail on its own (its worker shut down): it gets its try back. */
  handedBack?: boolean;
}

export interface FinishedTry {
  dagRunId: number;
  taskId: string;
  tryNumber: number;
  state: TaskState;
}

/**
 * Records finished tries: `running` → success | failed | up_for_retry, for the given try only
 * (a stale or duplicate report changes nothing), and archives each try in `task_try`. The
 * tries' log lines, if given, are appended by the same statement.
 */
export async function finishTries(tx: Queryable, outcomes: readonly TryOutcome[], logs: readonly LogLine[] = []): Promise<FinishedTry[]> {
  if (outcomes.length === 0) {
    await appendLogLines(tx, logs);
    return [];
  }
  const payload = JSON.stringify(
    outcomes.map((o) => ({
      dag_run_id: o.dagRunId,
      task_id: o.taskId,
      try_number: o.tryNumber,
      outcome: o.outcome,
      end_date: o.endDate.toISOString(),
      output: o.outcome === 'success' ? o.output : null,
      error: o.error,
      retry_delay_ms: o.retryDelayMs,
      extra_try: o.handedBack ? 1 : 0,
    })),
  );
  // The same rows as appendLogLines writes.
  const logsPayload = JSON.stringify(
    logs.map((l) => ({ dag_run_id: l.dagRunId, task_id: l.taskId, try_number: l.tryNumber, logged_at: l.loggedAt.toISOString(), level: l.level, message: l.message })),
  );
  // Planned on every call, never cached: a plan made while the table was small would walk all of
  // it once it is big. The limit (the payload's length) tells the planner how many rows the JSON
  // holds (it assumes 100), so it looks them up by key rather than scanning the table.
  const result = await tx.execute<{ dag_run_id: number; task_id: string; try_number: number; state: TaskState }>(sql`
    with input as (
      select * from json_to_recordset(${payload}::json) as v(
        dag_run_id bigint, task_id text, try_number int, outcome text, end_date timestamptz,
        output jsonb, error text, retry_delay_ms bigint, extra_try int)
      limit ${outcomes.length}
    ), updated as (
      update task_instance ti set
        state = case when v.outcome = 'failed' and ti.try_number < ti.max_tries + v.extra_try then 'up_for_retry' else v.outcome end,
        max_tries = ti.max_tries + v.extra_try,
        end_date = v.end_date,
        duration_ms = extract(epoch from (v.end_date - coalesce(ti.start_date, v.end_date))) * 1000,
        output = v.output,
        error = v.error,
        next_retry_at = case when v.outcome = 'failed' and ti.try_number < ti.max_tries + v.extra_try
          then now() + v.retry_delay_ms * interval '1 millisecond' end,
        heartbeat_at = null,
        updated_at = now()
      from input v
      -- coalesce(state) (never null) is the same test but matches no index on state: rows are
      -- found by key, never by walking every running task instance (and, without vacuum, every
      -- old version of one) that the partial index on state holds.
      where ti.dag_run_id = v.dag_run_id and ti.task_id = v.task_id and ti.try_number = v.try_number and coalesce(ti.state, '') = 'running'
      returning ti.*
    ), archived as (
      insert into task_try (dag_run_id, task_id, try_number, state, start_date, end_date, duration_ms, hostname, pid, output, error)
      select dag_run_id, task_id, try_number, case when state = 'up_for_retry' then 'failed' else state end,
             start_date, end_date, duration_ms, hostname, pid, output, error
      from updated
      on conflict (dag_run_id, task_id, try_number) do update set
        state = excluded.state, end_date = excluded.end_date, duration_ms = excluded.duration_ms,
        output = excluded.output, error = excluded.error
    ), logged as (
      insert into task_log (dag_run_id, task_id, try_number, logged_at, level, message)
      select dag_run_id, task_id, try_number, logged_at, level, message
      from json_to_recordset(${logsPayload}::json) as l(dag_run_id bigint, task_id text, try_number int, logged_at timestamptz, level text, message text)
    )
    select dag_run_id, task_id, try_number, state from updated
  `);
  return result.rows.map((row) => ({ dagRunId: row.dag_run_id, taskId: row.task_id, tryNumber: row.try_number, state: row.state }));
}

/** What a worker needs to start a try, read back by {@link startTries}. */
export interface StartedTry {
  dagRunId: number;
  taskId: string;
  tryNumber: number;
  maxTries: number;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  conf: JsonObject;
}

/** `queued` → `running` for exactly these tries; a try no longer queued (stale job) is left out. */
export async function startTries(
  tx: Queryable,
  tries: readonly { dagRunId: number; taskId: string; tryNumber: number; startDate: Date; hostname: string; pid: number }[],
): Promise<StartedTry[]> {
  if (tries.length === 0) return [];
  const payload = JSON.stringify(
    tries.map((t) => ({
      dag_run_id: t.dagRunId,
      task_id: t.taskId,
      try_number: t.tryNumber,
      start_date: t.startDate.toISOString(),
      hostname: t.hostname,
      pid: t.pid,
    })),
  );
  const result = await tx.execute<{
    dag_run_id: number;
    task_id: string;
    try_number: number;
    max_tries: number;
    logical_date: Date;
    data_interval_start: Date;
    data_interval_end: Date;
    conf: JsonObject;
  }>(sql`
    with started as (
      update task_instance ti set
        state = 'running', start_date = v.start_date, hostname = v.hostname, pid = v.pid,
        heartbeat_at = now(), updated_at = now()
      from (
        -- The limit (the payload's length) tells the planner the row count, as in finishTries.
        select * from json_to_recordset(${payload}::json) as v(dag_run_id bigint, task_id text, try_number int, start_date timestamptz, hostname text, pid int)
        limit ${tries.length}
      ) v
      where ti.dag_run_id = v.dag_run_id and ti.task_id = v.task_id and ti.try_number = v.try_number
        and coalesce(ti.state, '') = 'queued' -- found by key, as in finishTries
      returning ti.dag_run_id, ti.task_id, ti.try_number, ti.max_tries
    )
    -- The run's fields are joined after the update, so its row lookups are by the full key.
    select s.dag_run_id, s.task_id, s.try_number, s.max_tries, r.logical_date, r.data_interval_start, r.data_interval_end, r.conf
    from started s join dag_run r on r.id = s.dag_run_id
  `);
  return result.rows.map((row) => ({
    dagRunId: row.dag_run_id,
    taskId: row.task_id,
    tryNumber: row.try_number,
    maxTries: row.max_tries,
    logicalDate: new Date(row.logical_date),
    dataIntervalStart: new Date(row.data_interval_start),
    dataIntervalEnd: new Date(row.data_interval_end),
    conf: row.conf,
  }));
}

/**
 * Refreshes the heartbeat of running tries; returns those still `running` with that try number.
 * A try missing from the result was cleared, marked or reaped meanwhile: its worker stops it.
 */
export async function heartbeatTries(
  tx: Queryable,
  tries: readonly { dagRunId: number; taskId: string; tryNumber: number }[],
): Promise<{ dagRunId: number; taskId: string; tryNumber: number }[]> {
  if (tries.length === 0) return [];
  const payload = JSON.stringify(tries.map((t) => ({ dag_run_id: t.dagRunId, task_id: t.taskId, try_number: t.tryNumber })));
  const result = await tx.execute<{ dag_run_id: number; task_id: string; try_number: number }>(sql`
    update task_instance ti set heartbeat_at = now()
    from json_to_recordset(${payload}::json) as v(dag_run_id bigint, task_id text, try_number int)
    where ti.dag_run_id = v.dag_run_id and ti.task_id = v.task_id and ti.try_number = v.try_number and ti.state = 'running'
    returning ti.dag_run_id, ti.task_id, ti.try_number
  `);
  return result.rows.map((row) => ({ dagRunId: row.dag_run_id, taskId: row.task_id, tryNumber: row.try_number }));
}