/**
 * An experiment's results (`flywheel experiments show`, `GET /api/v1/experiments/:key`): per
 * variant, what its exposed members were shown, clicked and took; each treatment's lift over the
 * baseline (the first variant) with a 95% interval; the sample-ratio-mismatch check; and the
 * guardrail, workouts per exposed member. The unit of randomisation is the member, so every
 * metric is computed from per-member sums (a ratio metric's variance by the delta method).
 */
import { sql } from 'drizzle-orm';
import type { Queryable } from '../../core/db/client.ts';
import { utcDay } from '../../model/data/time.ts';
import { meanLift, ratioLift, ratioMetric, sampleRatioMismatch, twoProportionLift, type LiftEstimate } from '../../model/experiments/statistics.ts';
import { experimentStatus, variantOf, type ExperimentStatus } from './experiment.ts';
import { requireExperiment } from './store.ts';

/** A variant's numbers over its exposed members (rates are null with nothing to divide by). */
export interface VariantReport {
  key: string;
  /** Percent of members assigned to it. */
  weight: number;
  /** Members of the platform the hash assigns to it (exposed or not). */
  members: number;
  /** Members served a row of the experiment at least once. */
  exposed: number;
  /** Exposed members with at least one conversion from the experiment's rows. */
  converted: number;
  /** converted / exposed. */
  takeRate: number | null;
  impressions: number;
  clicks: number;
  conversions: number;
  /** conversions / impressions, summed over exposed members. */
  conversionsPerImpression: number | null;
  /**
   * Among member-days with impressions in the experiment's rows that day and the day before, the
   * share on which a row shows a class shown the day before and not taken in between.
   */
  repeatIgnoredRate: number | null;
}

/** A treatment's relative lift over the baseline on one metric: (treatment / baseline − 1), 95% interval, two-sided p-value. */
export interface LiftReport {
  variant: string;
  baseline: string;
  metric: 'takeRate' | 'conversionsPerImpression' | 'repeatIgnoredRate' | 'workoutsPerMember';
  relative: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  pValue: number | null;
}

export interface ExperimentReport {
  key: string;
  status: ExperimentStatus;
  variants: VariantReport[];
  lift: LiftReport[];
  /** Chi-square test of the exposed counts against the weights. */
  srmPValue: number | null;
  /** p < 0.001: the split is not what the weights say, and the results cannot be trusted. */
  srmFlagged: boolean;
  guardrails: {
    /** Workouts (any class) per exposed member from their exposure until `until`; lift by Welch's test. */
    workoutsPerMember: {
      until: string;
      variants: { variant: string; exposed: number; workouts: number; mean: number | null }[];
      lift: LiftReport[];
    };
  };
  rows: string[];
  startAt: string;
  endAt: string | null;
  stoppedAt: string | null;
}

export interface ReportOptions {
  /** What "now" is: the status, and the end of the guardrail's window while it runs. @defaultValue new Date() */
  now?: Date;
}

/** One exposed member's sums. */
interface MemberSums {
  variant: string;
  impressions: number;
  clicks: number;
  conversions: number;
  workouts: number;
  eligibleDays: number;
  repeatedDays: number;
}

const rate = (num: number, den: number) => (den > 0 ? num / den : null);
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** Per exposed member: impressions, clicks and conversions in the experiment's rows; workouts since exposure. */
async function memberSums(db: Queryable, key: string, rows: string[], fromDay: string, until: Date): Promise<Map<string, MemberSums>> {
  const result = await db.execute<{ member_id: string; variant: string; impressions: number; clicks: number; conversions: number; workouts: number }>(sql`
    with x as (select member_id, variant, exposed_at from feedback.exposure where experiment_key = ${key}),
    imp as (
      select member_id, count(*)::int as n from feedback.impression
      where experiment_key = ${key} and "row" in ${rows} and day >= ${fromDay}::date group by member_id
    ),
    clk as (
      select member_id, count(*)::int as n from feedback.event
      where type = 'click' and experiment_key = ${key} and "row" in ${rows} and day >= ${fromDay}::date group by member_id
    ),
    conv as (
      select member_id, count(*)::int as n from feedback.conversion
      where experiment_key = ${key} and "row" in ${rows} and day >= ${fromDay}::date group by member_id
    ),
    wk as (
      select w.member_id, count(*)::int as n from source.workout w join x on x.member_id = w.member_id
      where w.started_at >= x.exposed_at and w.started_at < ${until} group by w.member_id
    )
    select x.member_id, x.variant, coalesce(imp.n, 0) as impressions, coalesce(clk.n, 0) as clicks,
           coalesce(conv.n, 0) as conversions, coalesce(wk.n, 0) as workouts
    from x left join imp using (member_id) left join clk using (member_id) left join conv using (member_id) left join wk using (member_id)
  `);
  const sums = new Map<string, MemberSums>();
  for (const r of result.rows) {
    sums.set(r.member_id, { variant: r.variant, impressions: r.impressions, clicks: r.clicks, conversions: r.conversions, workouts: r.workouts, eligibleDays: 0, repeatedDays: 0 });
  }
  return sums;
}

/**
 * Per member, the days that count for the repeat-ignored rate (impressions in the experiment's
 * rows that day and the day before) and those on which a class shown the day before, and not
 * taken between the two showings, is shown again.
 */
async function repeatDays(db: Queryable, key: string, rows: string[], fromDay: string): Promise<{ member_id: string; eligible: number; repeated: number }[]> {
  const result = await db.execute<{ member_id: string; eligible: number; repeated: number }>(sql`
    with imp as (
      select member_id, day, class_id, min(served_at) as served_at from feedback.impression
      where experiment_key = ${key} and "row" in ${rows} and day >= ${fromDay}::date
      group by member_id, day, class_id
    ),
    days as (select distinct member_id, day from imp),
    eligible as (
      select d.member_id, d.day from days d join days p on p.member_id = d.member_id and p.day = d.day - 1
    ),
    repeats as (
      select t.member_id, t.day, bool_or(c.workout_id is null) as repeated
      from imp t
      join imp y on y.member_id = t.member_id and y.class_id = t.class_id and y.day = t.day - 1
      left join feedback.conversion c on c.member_id = t.member_id and c.class_id = t.class_id and c.day >= ${fromDay}::date
        and c.started_at >= y.served_at and c.started_at < t.served_at
      group by t.member_id, t.day
    )
    select e.member_id, count(*)::int as eligible, (count(*) filter (where r.repeated))::int as repeated
    from eligible e left join repeats r on r.member_id = e.member_id and r.day = e.day
    group by e.member_id
  `);
  return result.rows;
}

/** The members of the platform per variant, by the same hash the pipeline and the API use. */
async function assignedMembers(db: Queryable, experiment: Parameters<typeof variantOf>[0]): Promise<Map<string, number>> {
  const counts = new Map<string, number>(experiment.variants.map((v) => [v.key, 0]));
  const result = await db.execute<{ member_id: string }>(sql`select member_id from source.member`);
  for (const r of result.rows) {
    const v = variantOf(experiment, r.member_id).key;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return counts;
}

const liftOf = (variant: string, baseline: string, metric: LiftReport['metric'], lift: LiftEstimate): LiftReport => ({ variant, baseline, metric, ...lift });

/** The report of experiment `key` (`not_found` if there is none). */
export async function experimentReport(db: Queryable, key: string, options: ReportOptions = {}): Promise<ExperimentReport> {
  const now = options.now ?? new Date();
  const experiment = await requireExperiment(db, key, now);
  const ends = [now, experiment.endAt, experiment.stoppedAt].filter((d): d is Date => d !== null);
  const until = new Date(Math.max(experiment.startAt.getTime(), Math.min(...ends.map((d) => d.getTime()))));
  const fromDay = utcDay(experiment.startAt);

  const [sums, repeats, members] = await Promise.all([
    memberSums(db, key, experiment.rows, fromDay, until),
    repeatDays(db, key, experiment.rows, fromDay),
    assignedMembers(db, experiment),
  ]);
  for (const r of repeats) {
    const m = sums.get(r.member_id);
    // Impressions of a member never exposed cannot come from the API; a client's stray ones are left out.
    if (m) Object.assign(m, { eligibleDays: r.eligible, repeatedDays: r.repeated });
  }

  const byVariant = new Map<string, MemberSums[]>(experiment.variants.map((v) => [v.key, []]));
  for (const m of sums.values()) byVariant.get(m.variant)?.push(m);
  const of = (v: string) => byVariant.get(v)!;
  const field = (v: string, f: keyof Omit<MemberSums, 'variant'>) => of(v).map((m) => m[f]);

  const variants: VariantReport[] = experiment.variants.map((v) => {
    const ms = of(v.key);
    const impressions = sum(field(v.key, 'impressions'));
    const conversions = sum(field(v.key, 'conversions'));
    const converted = ms.filter((m) => m.conversions > 0).length;
    return {
      key: v.key,
      weight: v.weight,
      members: members.get(v.key) ?? 0,
      exposed: ms.length,
      converted,
      takeRate: rate(converted, ms.length),
      impressions,
      clicks: sum(field(v.key, 'clicks')),
      conversions,
      conversionsPerImpression: rate(conversions, impressions),
      repeatIgnoredRate: rate(sum(field(v.key, 'repeatedDays')), sum(field(v.key, 'eligibleDays'))),
    };
  });

  const baseline = variants[0]!;
  const lift: LiftReport[] = [];
  const guardrailLift: LiftReport[] = [];
  const ratio = (v: string, num: 'conversions' | 'repeatedDays', den: 'impressions' | 'eligibleDays') => ratioMetric(field(v, num), field(v, den));
  for (const t of variants.slice(1)) {
    const b = baseline.key;
    lift.push(liftOf(t.key, b, 'takeRate', twoProportionLift({ successes: baseline.converted, trials: baseline.exposed }, { successes: t.converted, trials: t.exposed })));
    lift.push(liftOf(t.key, b, 'conversionsPerImpression', ratioLift(ratio(b, 'conversions', 'impressions'), ratio(t.key, 'conversions', 'impressions'))));
    lift.push(liftOf(t.key, b, 'repeatIgnoredRate', ratioLift(ratio(b, 'repeatedDays', 'eligibleDays'), ratio(t.key, 'repeatedDays', 'eligibleDays'))));
    guardrailLift.push(liftOf(t.key, b, 'workoutsPerMember', meanLift(field(b, 'workouts'), field(t.key, 'workouts'))));
  }

  const srm = sampleRatioMismatch(
    variants.map((v) => v.exposed),
    variants.map((v) => v.weight),
  );

  return {
    key,
    status: experimentStatus(experiment, now),
    variants,
    lift,
    srmPValue: srm.pValue,
    srmFlagged: srm.flagged,
    guardrails: {
      workoutsPerMember: {
        until: until.toISOString(),
        variants: variants.map((v) => {
          const workouts = sum(field(v.key, 'workouts'));
          return { variant: v.key, exposed: v.exposed, workouts, mean: rate(workouts, v.exposed) };
        }),
        lift: guardrailLift,
      },
    },
    rows: experiment.rows,
    startAt: experiment.startAt.toISOString(),
    endAt: experiment.endAt?.toISOString() ?? null,
    stoppedAt: experiment.stoppedAt?.toISOString() ?? null,
  };
}
