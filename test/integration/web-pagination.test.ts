import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runsPageQuery } from '../../core/db/queries/dag-views.ts';
import { json, tokenRequest, WebFixture } from './web-support.ts';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

const RUNS = 10_000;
const TIES = 300;

/** Keyset pagination over 10,000 runs (+ ties on the logical date): pages are exact, and a deep page is an index range scan. */
describe('paginated lists with 10,000 runs', () => {
  let web: WebFixture;
  let token: string;
  const get = async <T>(path: string) => {
    const res = await tokenRequest(web.api, 'GET', path, token);
    expect(res.status, path).toBe(200);
    return json<T>(res);
  };

  beforeAll(async () => {
    web = await WebFixture.start({ scheduler: false, workers: {} });
    token = web.users.viewer.token;
    const db = web.harness.db;
    // One run a day for web_daily, some failed; manual runs sharing logical dates with scheduled ones (ties broken by id);
    // runs of another DAG interleaved, which must never show up.
    await db.execute(sql`
      insert into dag_run (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, start_date, end_date, triggered_by)
      select 'web_daily', 'scheduled__' || g, 'scheduled', t, t, t + interval '1 day', case when g % 7 = 0 then 'failed' else 'success' end,
             t + interval '1 day', t + interval '1 day 5 minutes', 'scheduler'
      from generate_series(1, ${RUNS}) g, lateral (select timestamptz '2000-01-01 06:00Z' + g * interval '1 day' as t) x
    `);
    await db.execute(sql`
      insert into dag_run (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, triggered_by)
      select 'web_daily', 'manual__tie_' || g, 'manual', t, t, t, 'success', 'someone'
      from generate_series(1, ${TIES}) g, lateral (select timestamptz '2000-01-01 06:00Z' + (g * 31) * interval '1 day' as t) x
    `);
    await db.execute(sql`
      insert into dag_run (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state)
      select 'web_flaky', 'manual__' || g, 'manual', t, t, t, 'success'
      from generate_series(1, 3000) g, lateral (select timestamptz '2000-01-01 07:00Z' + g * interval '3 days' as t) x
    `);
    await db.execute(sql`
      insert into task_instance (dag_run_id, task_id, dag_id, run_id, state, try_number, max_tries, pool, priority_weight)
      select id, 'only', dag_id, run_id, case when state = 'failed' then 'failed' else 'success' end, 1, 1, 'default', 1
      from dag_run where dag_id = 'web_daily'
    `);
    await db.execute(sql`analyze dag_run`);
    await db.execute(sql`analyze task_instance`);
  });
  afterAll(async () => {
    await web?.close();
  });

  async function expectedIds(where = sql`true`): Promise<number[]> {
    const rows = await web.harness.db.execute<{ id: number }>(sql`select id from dag_run where dag_id = 'web_daily' and ${where} order by logical_date desc, id desc`);
    return rows.rows.map((row) => row.id);
  }

  async function walk(query: string): Promise<{ ids: number[]; pages: number }> {
    const ids: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { runs: { id: number; dagId: string }[]; nextCursor: string | null } = await get(`/dags/web_daily/runs?${query}${cursor ? `&cursor=${cursor}` : ''}`);
      pages += 1;
      for (const run of page.runs) expect(run.dagId).toBe('web_daily');
      ids.push(...page.runs.map((r) => r.id));
      cursor = page.nextCursor;
      expect(pages).toBeLessThan(200);
    } while (cursor);
    return { ids, pages };
  }

  it('walking every page returns every run exactly once, newest first, ties by id', async () => {
    const expected = await expectedIds();
    expect(expected).toHaveLength(RUNS + TIES);
    const { ids, pages } = await walk('limit=500');
    expect(pages).toBe(Math.ceil((RUNS + TIES) / 500));
    expect(ids).toEqual(expected);
  });

  it('filters by state across pages', async () => {
    const expected = await expectedIds(sql`state = 'failed'`);
    expect(expected.length).toBe(Math.floor(RUNS / 7));
    const { ids } = await walk('limit=100&state=failed');
    expect(ids).toEqual(expected);
  });

  it('a deep page of the grid has its runs and their task instances', async () => {
    const expected = await expectedIds();
    const cursorIndex = 9_000;
    const grid = await get<{ runs: { id: number }[]; taskInstances: { dagRunId: number; taskId: string }[]; nextCursor: string }>(
      `/dags/web_daily/grid?limit=25&cursor=${expected[cursorIndex]}`,
    );
    expect(grid.runs.map((r) => r.id)).toEqual(expected.slice(cursorIndex + 1, cursorIndex + 26));
    expect(grid.taskInstances.map((t) => t.dagRunId).sort()).toEqual(grid.runs.map((r) => r.id).sort());
    expect(grid.nextCursor).toBe(String(expected[cursorIndex + 25]));
  });

  it('a deep page is an ordered index range scan on (dag_id, logical_date, id) that reads one page of rows', async () => {
    const expected = await expectedIds();
    for (const before of [undefined, expected[8_000]!]) {
      const explained = await web.harness.db.execute<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        sql`explain (analyze, format json) ${runsPageQuery('web_daily', { limit: 25, ...(before ? { before } : {}) })}`,
      );
      const plan = explained.rows[0]!['QUERY PLAN'][0].Plan;
      const all = nodes(plan);
      expect(all.filter((n) => n['Node Type'].includes('Seq Scan')), JSON.stringify(plan)).toEqual([]);
      expect(all.filter((n) => n['Node Type'].includes('Sort')), 'no sort: the index gives the order').toEqual([]);
      const scan = all.find((n) => n['Relation Name'] === 'dag_run' && n['Index Name'] === 'dag_run_dag_id_logical_date_id_idx');
      expect(scan, JSON.stringify(plan)).toBeDefined();
      expect(scan!['Node Type']).toBe('Index Scan');
      if (before) expect(scan!['Index Cond']).toMatch(/logical_date <=/);
      // It starts at the cursor and stops after the page: not the 8,000 rows before it, nor the 2,300 after.
      expect(scan!['Actual Rows']).toBeLessThanOrEqual(26);
    }
  });

  it('the audit log pages exactly too (ties on the timestamp broken by id)', async () => {
    await web.harness.db.execute(sql`
      insert into audit_log (at, actor, auth, action, dag_id, target)
      select timestamptz '2026-01-01Z' + (g / 3) * interval '1 second', 'someone', 'token', 'dag.trigger', 'web_flaky', 'web_flaky'
      from generate_series(1, 1000) g
    `);
    const expected = (await web.harness.db.execute<{ id: number }>(sql`select id from audit_log order by at desc, id desc`)).rows.map((r) => r.id);
    const ids: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { entries: { id: number }[]; nextCursor: string | null } = await get(`/auditLog?limit=70${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...page.entries.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(ids).toEqual(expected);
  });
});
