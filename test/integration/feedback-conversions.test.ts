/**
 * Conversions on a real PostgreSQL: a workout of a class shown to the member, after the
 * impression and within the window (and before the next publication), converts once, to the
 * latest such impression (ties: the lower position) — however often attribution runs; and the
 * retention drops old day partitions.
 */
import { describe, expect, it } from 'vitest';
import { attributeConversions } from '../../daily-picks/feedback/conversions.ts';
import { dropExpiredFeedback, ensureFeedbackPartitions } from '../../daily-picks/feedback/partitions.ts';
import { utcDay } from '../../model/data/time.ts';
import { useTestDatabase } from '../support/database.ts';

const HOUR = 3_600_000;
const T = new Date('2026-05-10T08:00:00.000Z');
const at = (hours: number) => new Date(T.getTime() + hours * HOUR);

interface Impression {
  member: string;
  cls: string;
  row: string;
  position: number;
  servedAt: Date;
  publicationId?: number | null;
  variant?: string | null;
}

describe('conversions and retention', { timeout: 60_000 }, () => {
  const database = useTestDatabase();
  const query = async <R extends Record<string, unknown>>(text: string, values: unknown[] = []) => (await database.pool.query<R>(text, values)).rows;

  async function impressions(list: Impression[]): Promise<void> {
    for (const i of list) {
      await ensureFeedbackPartitions(database.db, utcDay(i.servedAt), utcDay(i.servedAt));
      await query(
        `insert into feedback.impression (day, served_at, member_id, row, position, class_id, publication_id, model_version, experiment_key, variant, source)
         values ($1, $2, $3, $4, $5, $6, $7, 'v1', $8, $9, 'api')`,
        [utcDay(i.servedAt), i.servedAt, i.member, i.row, i.position, i.cls, i.publicationId ?? null, i.variant ? 'exp' : null, i.variant ?? null],
      );
    }
  }

  async function workout(member: string, cls: string, startedAt: Date): Promise<number> {
    const [row] = await query<{ workout_id: number }>(`insert into source.workout (member_id, class_id, started_at, completion) values ($1, $2, $3, 1) returning workout_id`, [member, cls, startedAt]);
    return Number(row!.workout_id);
  }

  async function publication(id: number, publishedAt: Date): Promise<void> {
    await query(
      `insert into picks_publication (id, dag_id, run_id, model_version, generated_at, published_at, status, member_count, pick_count) values ($1, 'daily_picks', $2, 'v1', $3, $3, 'retired', 0, 0)`,
      [id, `run_${id}`, publishedAt],
    );
  }

  const conversions = () =>
    query<{ workout_id: number; member_id: string; class_id: string; row: string; position: number; variant: string | null; served_at: Date; publication_id: number | null; day: string }>(
      `select workout_id, member_id, class_id, row, position, variant, served_at, publication_id, to_char(day, 'YYYY-MM-DD') as day from feedback.conversion order by workout_id`,
    );

  it('attributes a workout once, to the latest impression before it, and not outside the window', async () => {
    await impressions([
      // m1 saw c1 twice: the later impression (for_your_usual, 3) explains the workout.
      { member: 'm1', cls: 'c1', row: 'quick_workout', position: 1, servedAt: at(-3), variant: 'heuristics' },
      { member: 'm1', cls: 'c1', row: 'for_your_usual', position: 3, servedAt: at(0), variant: 'model' },
      // m2 saw c2 in two rows at the same moment: the lower position wins.
      { member: 'm2', cls: 'c2', row: 'something_new', position: 4, servedAt: at(0) },
      { member: 'm2', cls: 'c2', row: 'quick_workout', position: 1, servedAt: at(0) },
      // m3: the workout comes before the impression; m4: after the 24 h window.
      { member: 'm3', cls: 'c3', row: 'for_your_usual', position: 1, servedAt: at(0) },
      { member: 'm4', cls: 'c4', row: 'for_your_usual', position: 1, servedAt: at(0) },
    ]);
    const w1 = await workout('m1', 'c1', at(2));
    const w2 = await workout('m2', 'c2', at(1));
    await workout('m3', 'c3', at(-1));
    await workout('m4', 'c4', at(25));
    await workout('m1', 'c9', at(2)); // a class m1 was never shown
    await workout('m9', 'c1', at(2)); // a member shown nothing

    const first = await attributeConversions(database.db, { until: at(30) });
    expect(first).toEqual({ conversions: 2, workoutsScanned: 6 });
    const again = await attributeConversions(database.db, { until: at(30) });
    expect(again).toEqual({ conversions: 0, workoutsScanned: 6 });
    const rows = await conversions();
    expect(rows.map((r) => ({ ...r, workout_id: Number(r.workout_id), served_at: new Date(r.served_at).toISOString() }))).toEqual([
      { workout_id: w1, member_id: 'm1', class_id: 'c1', row: 'for_your_usual', position: 3, variant: 'model', served_at: at(0).toISOString(), publication_id: null, day: '2026-05-10' },
      { workout_id: w2, member_id: 'm2', class_id: 'c2', row: 'quick_workout', position: 1, variant: null, served_at: at(0).toISOString(), publication_id: null, day: '2026-05-10' },
    ]);
    // A workout of a later run's window is attributed by that run, and only once.
    const late = await workout('m1', 'c1', at(20));
    expect(await attributeConversions(database.db, { until: at(48) })).toMatchObject({ conversions: 1 });
    expect(await attributeConversions(database.db, { until: at(48), lookbackHours: 100 })).toMatchObject({ conversions: 0 });
    expect((await conversions()).map((r) => Number(r.workout_id))).toEqual([w1, w2, late]);
  });

  it('ends the window at the next publication', async () => {
    const base = at(100);
    await publication(1001, new Date(base.getTime() - 10 * HOUR));
    await publication(1002, new Date(base.getTime() + 5 * HOUR));
    await impressions([
      { member: 'p1', cls: 'k1', row: 'for_your_usual', position: 2, servedAt: base, publicationId: 1001 },
      { member: 'p2', cls: 'k2', row: 'for_your_usual', position: 2, servedAt: base, publicationId: 1001 },
      // Served "after" the next publication by its clock (a simulated day): the window alone bounds it.
      { member: 'p3', cls: 'k3', row: 'for_your_usual', position: 2, servedAt: new Date(base.getTime() + 6 * HOUR), publicationId: 1001 },
    ]);
    const before = await workout('p1', 'k1', new Date(base.getTime() + 4 * HOUR));
    await workout('p2', 'k2', new Date(base.getTime() + 6 * HOUR)); // after publication 1002 replaced the row
    const simulated = await workout('p3', 'k3', new Date(base.getTime() + 12 * HOUR));
    const result = await attributeConversions(database.db, { until: new Date(base.getTime() + 24 * HOUR), lookbackHours: 24 });
    expect(result).toEqual({ conversions: 2, workoutsScanned: 3 });
    const rows = (await conversions()).filter((r) => r.member_id.startsWith('p'));
    expect(rows.map((r) => [Number(r.workout_id), Number(r.publication_id)])).toEqual([
      [before, 1001],
      [simulated, 1001],
    ]);
  });

  it('drops the partitions of days past the retention, and only those', async () => {
    const now = new Date('2026-09-01T12:00:00.000Z');
    await ensureFeedbackPartitions(database.db, '2026-05-01', '2026-05-03');
    await ensureFeedbackPartitions(database.db, '2026-06-02', '2026-06-04');
    const partitions = async () =>
      (await query<{ relname: string }>(`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'feedback' order by 1`)).map((r) => r.relname);
    const before = await partitions();
    expect(before).toContain('impression_20260501');
    const expired = before.filter((name) => name.slice(-8) < '20260603');
    expect(expired.length).toBeGreaterThanOrEqual(4 * 3);
    // 90 days before 2026-09-01 is 2026-06-03: days before it go, that day and later stay.
    const dropped = await dropExpiredFeedback(database.db, { now, retentionDays: 90 });
    const left = await partitions();
    expect(left.filter((name) => name < 'impression_20260603' && name.startsWith('impression_'))).toEqual([]);
    expect(left).toEqual(expect.arrayContaining(['impression_20260603', 'impression_20260604', 'event_20260603', 'conversion_20260604']));
    expect(dropped).toBe(expired.length);
    expect(await dropExpiredFeedback(database.db, { now, retentionDays: 90 })).toBe(0);
    // The partitions of a dropped day are made again when something is written to it.
    await ensureFeedbackPartitions(database.db, '2026-05-01', '2026-05-01');
    expect(await partitions()).toContain('impression_20260501');
    await expect(dropExpiredFeedback(database.db, { now, retentionDays: 0 })).rejects.toThrow(/retentionDays/);
  });
});
