import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { members as memberTable, workouts } from '../../core/db/schema/source/index.ts';
import { clientEvents, conversions, exposures, impressions } from '../../core/db/schema/feedback.ts';
import { variantOf } from '../../daily-picks/experiments/experiment.ts';
import { experimentReport } from '../../daily-picks/experiments/report.ts';
import { createExperiment } from '../../daily-picks/experiments/store.ts';
import { useTestDatabase } from '../support/database.ts';

const D1 = '2026-03-02';
const D2 = '2026-03-03';
const at = (day: string, hour: number) => new Date(`${day}T${String(hour).padStart(2, '0')}:00:00Z`);
const EXPOSED_AT = at(D1, 8);

/** Two-sided p of a z statistic, from an erfc approximation (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7), not the code under test. */
function twoSidedP(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return erfc;
}

/** Textbook delta-method variance of Σx/Σy over units, written out here (as a check of the report, not a copy of it). */
function ratioVariance(x: number[], y: number[]): { r: number; v: number } {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b) / n;
  const my = y.reduce((a, b) => a + b) / n;
  const r = mx / my;
  const cov = (f: (i: number) => number, g: (i: number) => number) => x.reduce((s, _, i) => s + f(i) * g(i), 0) / (n - 1);
  const dx = (i: number) => x[i]! - mx;
  const dy = (i: number) => y[i]! - my;
  return { r, v: (cov(dx, dx) - 2 * r * cov(dx, dy) + r * r * cov(dy, dy)) / (n * my * my) };
}

/** Relative lift t/b − 1 and its 95% delta-method interval on the log of the ratio. */
function relative(b: number, vb: number, t: number, vt: number) {
  const half = 1.959963984540054 * Math.sqrt(vt / t ** 2 + vb / b ** 2);
  return { relative: t / b - 1, ciLow: (t / b) * Math.exp(-half) - 1, ciHigh: (t / b) * Math.exp(half) - 1 };
}

/**
 * The report's numbers against a small experiment whose every count is known: two variants of
 * four exposed members each, impressions on two days, clicks, conversions and workouts inserted
 * by hand, plus rows that must not count (another experiment, a row outside the experiment, a
 * workout before exposure or after the end).
 */
describe('experiment report', () => {
  const database = useTestDatabase();

  it('counts per variant, rates, lifts with intervals and the guardrail come out as computed by hand', async () => {
    const db = database.db;
    const experiment = await createExperiment(
      db,
      { key: 'rep', variants: [{ key: 'heuristics', weight: 50 }, { key: 'model', weight: 50 }], startAt: at('2026-03-01', 0), endAt: at('2026-03-10', 0) },
      'tester',
    );
    const ids = Array.from({ length: 200 }, (_, i) => `mem-${String(i).padStart(3, '0')}`);
    await db.insert(memberTable).values(ids.map((memberId) => ({ memberId })));
    const assigned = (v: string) => ids.filter((id) => variantOf(experiment, id).key === v);
    const [b1, b2, b3, b4] = assigned('heuristics') as [string, string, string, string];
    const [t1, t2, t3, t4] = assigned('model') as [string, string, string, string];

    await db.execute(sql`select feedback.ensure_partitions(${'2026-03-01'}::date, ${'2026-03-12'}::date)`);
    await db.insert(exposures).values([
      ...[b1, b2, b3, b4].map((memberId) => ({ experimentKey: 'rep', memberId, variant: 'heuristics', exposedAt: EXPOSED_AT, publicationId: 1 })),
      ...[t1, t2, t3, t4].map((memberId) => ({ experimentKey: 'rep', memberId, variant: 'model', exposedAt: EXPOSED_AT, publicationId: 1 })),
    ]);

    const shown: { day: string; memberId: string; classes: string[]; row?: string; experimentKey?: string }[] = [
      { day: D1, memberId: b1, classes: ['c1', 'c2', 'c3'] },
      { day: D2, memberId: b1, classes: ['c1', 'c4', 'c5'] }, // c1 again, not taken: a repeat-ignored day
      { day: D1, memberId: b2, classes: ['c1', 'c2'] },
      { day: D2, memberId: b2, classes: ['c2', 'c3'] }, // c2 again, but taken in between
      { day: D1, memberId: b3, classes: ['c1', 'c2'] },
      { day: D1, memberId: t1, classes: ['c1', 'c2', 'c3'] },
      { day: D2, memberId: t1, classes: ['c4', 'c5', 'c6'] },
      { day: D1, memberId: t2, classes: ['c1', 'c2'] },
      { day: D2, memberId: t2, classes: ['c3', 'c4'] },
      { day: D1, memberId: t3, classes: ['c1'] },
      // Not counted: a row outside the experiment, another experiment's row.
      { day: D1, memberId: b1, classes: ['c9'], row: 'ranked' },
      { day: D2, memberId: t4, classes: ['c9'], experimentKey: 'other' },
    ];
    const variantOfMember = (m: string) => ([b1, b2, b3, b4].includes(m) ? 'heuristics' : 'model');
    await db.insert(impressions).values(
      shown.flatMap((s) =>
        s.classes.map((classId, i) => ({
          day: s.day,
          servedAt: at(s.day, 8),
          memberId: s.memberId,
          row: s.row ?? 'for_your_usual',
          position: i + 1,
          classId,
          publicationId: 1,
          modelVersion: null,
          experimentKey: s.experimentKey ?? 'rep',
          variant: variantOfMember(s.memberId),
          source: 'api' as const,
        })),
      ),
    );

    const took: [string, string, string][] = [
      [b2, 'c2', D1],
      [t1, 'c1', D1],
      [t1, 'c5', D2],
      [t2, 'c3', D2],
      [t3, 'c1', D1],
    ];
    const tookRows = await db
      .insert(workouts)
      .values(took.map(([memberId, classId, day]) => ({ memberId, classId, startedAt: at(day, 12) })))
      .returning();
    await db.insert(conversions).values(
      tookRows.map((w) => ({
        day: w.startedAt.toISOString().slice(0, 10),
        workoutId: w.workoutId,
        memberId: w.memberId,
        classId: w.classId,
        startedAt: w.startedAt,
        servedAt: at(w.startedAt.toISOString().slice(0, 10), 8),
        row: 'for_your_usual',
        position: 1,
        publicationId: 1,
        experimentKey: 'rep',
        variant: variantOfMember(w.memberId),
      })),
    );
    // Organic workouts; one before exposure and one after the end do not count.
    await db.insert(workouts).values([
      { memberId: b1, classId: 'c7', startedAt: at(D1, 18) },
      { memberId: b1, classId: 'c7', startedAt: at('2026-03-01', 10) },
      { memberId: b2, classId: 'c7', startedAt: at('2026-03-11', 10) },
      { memberId: b4, classId: 'c7', startedAt: at('2026-03-04', 10) },
      { memberId: b4, classId: 'c8', startedAt: at('2026-03-05', 10) },
      { memberId: t3, classId: 'c7', startedAt: at('2026-03-04', 10) },
      { memberId: t3, classId: 'c8', startedAt: at('2026-03-05', 10) },
    ]);
    const event = (eventId: string, memberId: string, type: 'click' | 'impression', row = 'for_your_usual') => ({
      day: D1,
      eventId,
      type,
      memberId,
      classId: 'c1',
      row,
      position: 1,
      publicationId: 1,
      experimentKey: 'rep',
      variant: variantOfMember(memberId),
      occurredAt: at(D1, 9),
    });
    await db.insert(clientEvents).values([
      event('e1', b1, 'click'),
      event('e2', b2, 'click'),
      event('e3', b1, 'impression'),
      event('e4', t1, 'click'),
      event('e5', t1, 'click'),
      event('e6', t3, 'click'),
      event('e7', t3, 'click', 'ranked'),
    ]);

    const report = await experimentReport(db, 'rep', { now: at('2026-03-20', 0) });
    expect(report).toMatchObject({
      key: 'rep',
      status: 'ended',
      rows: ['for_your_usual', 'quick_workout', 'something_new'],
      startAt: '2026-03-01T00:00:00.000Z',
      endAt: '2026-03-10T00:00:00.000Z',
      stoppedAt: null,
    });
    expect(Object.keys(report).sort()).toEqual(['endAt', 'guardrails', 'key', 'lift', 'rows', 'srmFlagged', 'srmPValue', 'startAt', 'status', 'stoppedAt', 'variants']);
    expect(report.variants).toEqual([
      {
        key: 'heuristics', weight: 50, members: assigned('heuristics').length, exposed: 4, converted: 1, takeRate: 0.25,
        impressions: 12, clicks: 2, conversions: 1, conversionsPerImpression: 1 / 12, repeatIgnoredRate: 0.5,
      },
      {
        key: 'model', weight: 50, members: assigned('model').length, exposed: 4, converted: 3, takeRate: 0.75,
        impressions: 11, clicks: 3, conversions: 4, conversionsPerImpression: 4 / 11, repeatIgnoredRate: 0,
      },
    ]);
    expect(report.variants[0]!.members + report.variants[1]!.members).toBe(200);

    const lift = (metric: string) => report.lift.find((l) => l.metric === metric)!;
    expect(report.lift.map((l) => [l.variant, l.baseline, l.metric])).toEqual([
      ['model', 'heuristics', 'takeRate'],
      ['model', 'heuristics', 'conversionsPerImpression'],
      ['model', 'heuristics', 'repeatIgnoredRate'],
    ]);
    // Take rate 1/4 → 3/4: relative +200%; Var(ln ratio) = 0.046875/0.75² + 0.046875/0.25² = 5/6;
    // pooled p̄ = 0.5, z = 0.5/√(0.25·0.5) = √2.
    const take = lift('takeRate');
    expect(take.relative).toBeCloseTo(2, 10);
    expect(take.ciLow).toBeCloseTo(3 * Math.exp(-1.959963984540054 * Math.sqrt(5 / 6)) - 1, 10);
    expect(take.ciHigh).toBeCloseTo(3 * Math.exp(1.959963984540054 * Math.sqrt(5 / 6)) - 1, 10);
    expect(take.pValue).toBeCloseTo(0.1573, 4);
    expect(take.pValue).toBeCloseTo(twoSidedP(Math.SQRT2), 6);

    // Conversions per impression, per member: baseline x [0,1,0,0] / y [6,4,2,0], treatment [2,1,1,0] / [6,4,1,0].
    const rb = ratioVariance([0, 1, 0, 0], [6, 4, 2, 0]);
    const rt = ratioVariance([2, 1, 1, 0], [6, 4, 1, 0]);
    expect(rb.v).toBeCloseTo(0.240740740 / 36, 9);
    const cpi = lift('conversionsPerImpression');
    const cpiExpected = relative(rb.r, rb.v, rt.r, rt.v);
    expect(cpi.relative).toBeCloseTo((4 / 11) / (1 / 12) - 1, 10);
    expect(cpi.ciLow).toBeCloseTo(cpiExpected.ciLow, 10);
    expect(cpi.ciHigh).toBeCloseTo(cpiExpected.ciHigh, 10);
    expect(cpi.pValue).toBeCloseTo(twoSidedP((rt.r - rb.r) / Math.sqrt(rb.v + rt.v)), 6);

    // Repeat-ignored: the treatment has none, so its relative lift is −100%.
    expect(lift('repeatIgnoredRate').relative).toBeCloseTo(-1, 10);

    // Guardrail: workouts since exposure until the end. Baseline [1,1,0,2] (mean 1, Var(mean) 1/6),
    // treatment [2,1,3,0] (mean 1.5, Var(mean) 5/12): +50%, Var(ln ratio) = (5/12)/1.5² + (1/6)/1² = 0.351852.
    const g = report.guardrails.workoutsPerMember;
    expect(g.until).toBe('2026-03-10T00:00:00.000Z');
    expect(g.variants).toEqual([
      { variant: 'heuristics', exposed: 4, workouts: 4, mean: 1 },
      { variant: 'model', exposed: 4, workouts: 6, mean: 1.5 },
    ]);
    expect(g.lift).toHaveLength(1);
    expect(g.lift[0]).toMatchObject({ variant: 'model', baseline: 'heuristics', metric: 'workoutsPerMember' });
    expect(g.lift[0]!.relative).toBeCloseTo(0.5, 10);
    expect(g.lift[0]!.ciLow).toBeCloseTo(1.5 * Math.exp(-1.959963984540054 * Math.sqrt(5 / 12 / 2.25 + 1 / 6)) - 1, 10);
    expect(g.lift[0]!.pValue).toBeCloseTo(twoSidedP(0.5 / Math.sqrt(1 / 6 + 5 / 12)), 6);

    // A fair 4/4 split is no sample-ratio mismatch.
    expect(report.srmFlagged).toBe(false);
    expect(report.srmPValue).toBeCloseTo(1, 10);

    // While it runs, the guardrail's window ends now, and the status says so.
    const midway = await experimentReport(db, 'rep', { now: at('2026-03-04', 12) });
    expect(midway.status).toBe('running');
    expect(midway.guardrails.workoutsPerMember.until).toBe('2026-03-04T12:00:00.000Z');
    expect(midway.guardrails.workoutsPerMember.variants.map((v) => v.workouts)).toEqual([3, 5]);
  });

  it('flags a sample-ratio mismatch on a skewed split (300 vs 200 at 50/50), not on a fair one (255 vs 245)', async () => {
    const db = database.db;
    const make = async (key: string, year: number, counts: [number, number]) => {
      await createExperiment(db, { key, variants: [{ key: 'heuristics', weight: 50 }, { key: 'model_ignore_aware', weight: 50 }], rows: ['something_new'], startAt: new Date(Date.UTC(year, 0, 1)), endAt: new Date(Date.UTC(year, 1, 1)) }, 'tester');
      const rows = [
        ...Array.from({ length: counts[0] }, (_, i) => ({ experimentKey: key, memberId: `a-${i}`, variant: 'heuristics', exposedAt: new Date(Date.UTC(year, 0, 2)) })),
        ...Array.from({ length: counts[1] }, (_, i) => ({ experimentKey: key, memberId: `b-${i}`, variant: 'model_ignore_aware', exposedAt: new Date(Date.UTC(year, 0, 2)) })),
      ];
      await db.insert(exposures).values(rows);
      return experimentReport(db, key, { now: new Date(Date.UTC(year, 0, 20)) });
    };
    const skewed = await make('skewed', 2030, [300, 200]);
    // chi-square = 2 · 50²/250 = 20 on 1 degree of freedom: p ≈ 7.74e-6.
    expect(skewed.srmFlagged).toBe(true);
    expect(skewed.srmPValue).toBeCloseTo(7.744e-6, 8);
    expect(skewed.variants.map((v) => v.exposed)).toEqual([300, 200]);
    expect(skewed.variants.map((v) => v.takeRate)).toEqual([0, 0]);
    expect(skewed.variants.map((v) => v.conversionsPerImpression)).toEqual([null, null]);

    const fair = await make('fair', 2031, [255, 245]);
    expect(fair.srmFlagged).toBe(false);
    expect(fair.srmPValue).toBeCloseTo(0.6547, 4);
  });

  it('an experiment without exposures reports zeros and nulls, not errors; an unknown key is not_found', async () => {
    const db = database.db;
    await createExperiment(db, { key: 'empty', variants: [{ key: 'heuristics', weight: 34 }, { key: 'model', weight: 33 }, { key: 'model_ignore_aware', weight: 33 }], rows: ['ranked'], startAt: new Date(Date.UTC(2040, 0, 1)) }, 'tester');
    const report = await experimentReport(db, 'empty', { now: new Date(Date.UTC(2039, 0, 1)) });
    expect(report.status).toBe('scheduled');
    expect(report.variants.map((v) => [v.key, v.exposed, v.takeRate, v.repeatIgnoredRate])).toEqual([
      ['heuristics', 0, null, null],
      ['model', 0, null, null],
      ['model_ignore_aware', 0, null, null],
    ]);
    expect(report.lift).toHaveLength(6);
    expect(report.lift.every((l) => l.relative === null && l.pValue === null)).toBe(true);
    expect(report.srmPValue).toBeNull();
    expect(report.srmFlagged).toBe(false);
    await expect(experimentReport(db, 'nope')).rejects.toMatchObject({ kind: 'not_found', message: 'no experiment "nope"' });
  });
});
