import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import type { StoredTask } from '../db/schema/dag.ts';
import type { DagImportError } from '../loader/dag-bag.ts';
import type { Dag } from '../sdk/dag.ts';

/** The stored shape of a DAG's tasks, for the UI and CLI. */
export function storedTasks(dag: Dag): StoredTask[] {
  return dag.topologicalOrder.map((taskId) => {
    const t = dag.task(taskId);
    return {
      taskId,
      upstream: [...t.upstreamIds],
      pool: t.pool,
      triggerRule: t.triggerRule,
      retries: t.retries,
      priorityWeight: t.priorityWeight,
      sandboxed: t.sandboxed,
      executionTimeoutMs: t.executionTimeoutMs,
      doc: t.doc,
    };
  });
}

/**
 * Upserts the `dag` rows of loaded DAGs. A changed schedule or timezone resets the next
 * scheduled run, so it is recomputed from the new timetable.
 */
export async function upsertDags(tx: Queryable, dags: readonly Dag[]): Promise<void> {
  if (dags.length === 0) return;
  const payload = JSON.stringify(
    dags.map((dag) => ({
      dag_id: dag.dagId,
      fileloc: dag.fileloc ?? '',
      schedule: dag.schedule,
      timezone: dag.timezone,
      catchup: dag.catchup,
      start_date: dag.startDate?.toISOString() ?? null,
      end_date: dag.endDate?.toISOString() ?? null,
      max_active_runs: dag.maxActiveRuns,
      max_active_tasks: dag.maxActiveTasks,
      tags: dag.tags,
      description: dag.description,
      tasks: storedTasks(dag),
      is_paused: dag.isPausedUponCreation,
    })),
  );
  await tx.execute(sql`
    insert into dag (dag_id, fileloc, schedule, timezone, catchup, start_date, end_date, max_active_runs,
                     max_active_tasks, tags, description, tasks, is_paused, is_active, last_parsed_at)
    select dag_id, fileloc, schedule, timezone, catchup, start_date, end_date, max_active_runs,
           max_active_tasks, tags, description, tasks, is_paused, true, now()
    from json_to_recordset(${payload}::json) as v(dag_id text, fileloc text, schedule text, timezone text, catchup boolean,
      start_date timestamptz, end_date timestamptz, max_active_runs int, max_active_tasks int, tags jsonb,
      description text, tasks jsonb, is_paused boolean)
    on conflict (dag_id) do update set
      fileloc = excluded.fileloc, schedule = excluded.schedule, timezone = excluded.timezone,
      catchup = excluded.catchup, start_date = excluded.start_date, end_date = excluded.end_date,
      max_active_runs = excluded.max_active_runs, max_active_tasks = excluded.max_active_tasks,
      tags = excluded.tags, description = excluded.description, tasks = excluded.tasks,
      is_active = true, last_parsed_at = now(),
      next_dagrun = case when dag.schedule is distinct from excluded.schedule or dag.timezone <> excluded.timezone
                           or dag.catchup <> excluded.catchup or dag.start_date is distinct from excluded.start_date
                         then null else dag.next_dagrun end,
      next_dagrun_create_after = case when dag.schedule is distinct from excluded.schedule or dag.timezone <> excluded.timezone
                           or dag.catchup <> excluded.catchup or dag.start_date is distinct from excluded.start_date
                         then null else dag.next_dagrun_create_after end
  `);
}

/** Records the DAG folder's state after a full load: DAGs gone from it become inactive; import errors are replaced. */
export async function recordDagFolder(tx: Queryable, loadedDagIds: readonly string[], errors: readonly DagImportError[]): Promise<void> {
  await tx.execute(sql`update dag set is_active = false where is_active and not (dag_id = any(${sql.param([...loadedDagIds])}::text[]))`);
  await tx.execute(sql`delete from import_error`);
  if (errors.length > 0) {
    await tx.execute(sql`
      insert into import_error (filename, message)
      select filename, message from json_to_recordset(${JSON.stringify(errors.map((e) => ({ filename: e.file, message: e.message })))}::json)
        as v(filename text, message text)
      on conflict (filename) do update set message = excluded.message, created_at = now()
    `);
  }
}
