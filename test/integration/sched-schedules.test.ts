import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDagRuns } from '../../core/db/queries/dag-runs.ts';
import { setDagPaused } from '../../core/db/queries/dags.ts';
import { backfillDag } from '../../core/scheduler/actions.ts';
import { Harness } from '../support/harness.ts';

const DAGS = fileURLToPath(new URL('../fixtures/dags-sched/schedules', import.meta.url));
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const NY = 'America/New_York';

/** Logical dates of every daily 04:00 interval (in `zone`) since `startDate` that has ended at `now`. */
function completeDailyIntervals(startDate: Date, now: Date, zone: string): { start: Date; end: Date }[] {
  let tick = DateTime.fromJSDate(startDate, { zone }).set({ hour: 4, minute: 0, second: 0, millisecond: 0 });
  if (tick.toMillis() < startDate.getTime()) tick = tick.plus({ days: 1 });
  const intervals: { start: Date; end: Date }[] = [];
  for (;;) {
    const end = tick.plus({ days: 1 }); // calendar day in `zone`: 04:00 local again, 23–25 h later across DST
    if (end.toMillis() > now.getTime()) return intervals;
    intervals.push({ start: tick.toJSDate(), end: end.toJSDate() });
    tick = end;
  }
}

describe('scheduled runs: catchup, timezones, backfill across DST', () => {
  let harness: Harness;
  let startedAt: Date;
  beforeAll(async () => {
    startedAt = new Date();
    harness = await Harness.start({ dagsFolder: DAGS, workers: { default: 4 } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  async function ticks(n: number): Promise<void> {
    for (let i = 0; i < n; i += 1) await new Promise<void>((resolve) => harness.schedulers[0]!.once('tick', () => resolve()));
  }

  async function scheduledRuns(dagId: string) {
    const runs = await listDagRuns(harness.db, dagId, { limit: 1000 });
    return runs.filter((r) => r.runType === 'scheduled').sort((a, b) => a.logicalDate.getTime() - b.logicalDate.getTime());
  }

  function startDateOf(dagId: string): Date {
    const startDate = harness.runtime.dags.get(dagId)?.startDate;
    if (!startDate) throw new Error(`${dagId} has no startDate`);
    return startDate;
  }

  /** The expected intervals at the start of the test or now (in case a 04:00 boundary passed meanwhile). */
  function expectIntervals(actual: { start: Date; end: Date }[], dagId: string, zone: string, keep: (all: { start: Date; end: Date }[]) => { start: Date; end: Date }[] = (all) => all) {
    const candidates = [startedAt, new Date()].map((now) => keep(completeDailyIntervals(startDateOf(dagId), now, zone)));
    expect(candidates).toContainEqual(actual);
  }

  it('catchup: one scheduled run per complete 04:00 UTC interval since startDate, and no more', async () => {
    await ticks(5);
    const runs = await scheduledRuns('sched_catchup_utc');
    const intervals = runs.map((r) => ({ start: r.logicalDate, end: r.dataIntervalEnd }));
    expect(runs.length).toBeGreaterThanOrEqual(2); // startDate is midnight UTC three days ago
    expectIntervals(intervals, 'sched_catchup_utc', 'UTC');
    for (const run of runs) {
      expect(run.logicalDate.toISOString()).toMatch(/T04:00:00\.000Z$/);
      expect(run.dataIntervalStart).toEqual(run.logicalDate);
      expect(run.dataIntervalEnd.getTime() - run.logicalDate.getTime()).toBe(DAY_MS);
      expect(run.runId).toBe(`scheduled__${run.logicalDate.toISOString()}`);
      expect(run.triggeredBy).toBe('scheduler');
    }
    // More scheduler passes create nothing new; the runs themselves complete.
    await ticks(5);
    expect((await scheduledRuns('sched_catchup_utc')).map((r) => r.runId)).toEqual(runs.map((r) => r.runId));
    for (const run of runs) {
      expect((await harness.waitForRun(run.id)).state).toBe('success');
      const [ti] = await harness.taskInstances(run.id);
      expect(ti!.output).toEqual({ start: run.logicalDate.toISOString(), end: run.dataIntervalEnd.toISOString() });
    }
  });

  it('without catchup: only the latest complete interval', async () => {
    await ticks(5);
    const runs = await scheduledRuns('sched_no_catchup_utc');
    expect(runs).toHaveLength(1);
    const [run] = runs;
    expectIntervals([{ start: run!.logicalDate, end: run!.dataIntervalEnd }], 'sched_no_catchup_utc', 'UTC', (all) => all.slice(-1));
    expect(run!.runId).toBe(`scheduled__${run!.logicalDate.toISOString()}`);
    expect(run!.logicalDate.toISOString()).toMatch(/T04:00:00\.000Z$/);
    // It is the interval that ended most recently: the next one has not ended yet.
    expect(run!.dataIntervalEnd.getTime()).toBeLessThanOrEqual(Date.now());
    expect(run!.dataIntervalEnd.getTime() + DAY_MS).toBeGreaterThan(startedAt.getTime());
    await ticks(3);
    expect(await scheduledRuns('sched_no_catchup_utc')).toHaveLength(1);
  });

  it('America/New_York: every logical date is 04:00 local, each interval one local day', async () => {
    await ticks(5);
    const runs = await scheduledRuns('sched_catchup_ny');
    expect(runs.length).toBeGreaterThanOrEqual(9); // startDate is local midnight ten days ago
    expectIntervals(
      runs.map((r) => ({ start: r.logicalDate, end: r.dataIntervalEnd })),
      'sched_catchup_ny',
      NY,
    );
    const local = new Intl.DateTimeFormat('en-US', { timeZone: NY, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    for (const run of runs) {
      expect(local.format(run.logicalDate)).toBe('04:00');
      expect(local.format(run.dataIntervalEnd)).toBe('04:00');
      const start = DateTime.fromJSDate(run.logicalDate, { zone: NY });
      expect(start.hour).toBe(4);
      expect(DateTime.fromJSDate(run.dataIntervalEnd, { zone: NY }).toISODate()).toBe(start.plus({ days: 1 }).toISODate());
      expect(run.runId).toBe(`scheduled__${run.logicalDate.toISOString()}`);
    }
  });

  it('a paused scheduled DAG gets no runs until it is unpaused, then catches up', async () => {
    await ticks(5);
    expect(await scheduledRuns('sched_paused_scheduled')).toEqual([]);
    expect(await setDagPaused(harness.db, 'sched_paused_scheduled', false)).toBe(true);
    await ticks(5);
    const runs = await scheduledRuns('sched_paused_scheduled');
    expect(runs.length).toBeGreaterThanOrEqual(1); // startDate is midnight UTC two days ago
    expectIntervals(
      runs.map((r) => ({ start: r.logicalDate, end: r.dataIntervalEnd })),
      'sched_paused_scheduled',
      'UTC',
    );
    for (const run of runs) expect((await harness.waitForRun(run.id)).state).toBe('success');
  });

  it('backfill across the end of DST in New York: 08:00Z before, 09:00Z after, one 25 h interval', async () => {
    const from = DateTime.fromISO('2026-10-30', { zone: NY }).toJSDate();
    const to = DateTime.fromISO('2026-11-03', { zone: NY }).endOf('day').toJSDate();
    const created = await backfillDag(harness.runtime, 'sched_backfill_ny', from, to);
    const expected = [
      '2026-10-30T08:00:00.000Z',
      '2026-10-31T08:00:00.000Z',
      '2026-11-01T09:00:00.000Z',
      '2026-11-02T09:00:00.000Z',
      '2026-11-03T09:00:00.000Z',
    ];
    expect(created.map((c) => c.logicalDate.toISOString())).toEqual(expected);
    expect(created.every((c) => c.created)).toBe(true);
    expect(created.map((c) => c.runId)).toEqual(expected.map((iso) => `backfill__${iso}`));

    const runs = (await listDagRuns(harness.db, 'sched_backfill_ny', { limit: 100 }))
      .filter((r) => r.runType === 'backfill')
      .sort((a, b) => a.logicalDate.getTime() - b.logicalDate.getTime());
    expect(runs.map((r) => r.logicalDate.toISOString())).toEqual(expected);
    const hours = runs.map((r) => (r.dataIntervalEnd.getTime() - r.dataIntervalStart.getTime()) / HOUR_MS);
    expect(hours).toEqual([24, 25, 24, 24, 24]);
    expect(runs[1]!.dataIntervalEnd.toISOString()).toBe('2026-11-01T09:00:00.000Z');
    expect(runs.at(-1)!.dataIntervalEnd.toISOString()).toBe('2026-11-04T09:00:00.000Z');

    for (const run of runs) {
      expect((await harness.waitForRun(run.id)).state).toBe('success');
      const [ti] = await harness.taskInstances(run.id);
      expect(ti!.output).toEqual({ start: run.dataIntervalStart.toISOString(), end: run.dataIntervalEnd.toISOString() });
    }

    // A second backfill over the same range creates nothing.
    const again = await backfillDag(harness.runtime, 'sched_backfill_ny', from, to);
    expect(again.map((c) => c.created)).toEqual([false, false, false, false, false]);
    expect((await listDagRuns(harness.db, 'sched_backfill_ny', { limit: 100 })).filter((r) => r.runType === 'backfill')).toHaveLength(5);
  });
});
