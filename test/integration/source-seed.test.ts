/**
 * `seedSource` against a real PostgreSQL: determinism, the shape of the data, and the
 * statistical properties the pipeline relies on (stable tastes; a member's own history
 * predicts their next workouts better than global popularity does).
 */
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { SourceInputError } from '../../daily-picks/source/errors.ts';
import { DISCIPLINES } from '../../daily-picks/source/seed-model.ts';
import { seedSource, type SeedOptions } from '../../daily-picks/source/seed.ts';
import { useTestDatabase } from '../support/database.ts';

const UNTIL = new Date('2026-11-28T00:00:00Z');
const WINDOW_START = new Date(UNTIL.getTime() - 90 * 86_400_000);
const BASE: SeedOptions = { members: 2000, classes: 400, days: 90, seed: 7, until: UNTIL };

describe('flywheel seed', { timeout: 120_000 }, () => {
  const connection = useTestDatabase();
  let pool: pg.Pool;
  const q = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await pool.query<T>(text, values)).rows;
  const one = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await q<T>(text, values))[0]!;

  /** md5 over every source table's rows in key order. */
  const fingerprint = async () =>
    one<{ member: string; instructor: string; class: string; workout: string }>(
      `select (select md5(string_agg(m::text, E'\\n' order by member_id)) from source.member m) as member,
              (select md5(string_agg(i::text, E'\\n' order by instructor_id)) from source.instructor i) as instructor,
              (select md5(string_agg(c::text, E'\\n' order by class_id)) from source.class c) as class,
              (select md5(string_agg(w::text, E'\\n' order by workout_id)) from source.workout w) as workout`,
    );

  beforeAll(async () => {
    pool = connection.pool;
    await seedSource(pool, BASE);
  });

  it('is deterministic: the same options give identical data, another seed different data', async () => {
    const first = await fingerprint();
    const again = await seedSource(pool, { ...BASE, replace: true });
    expect(await fingerprint()).toEqual(first);
    expect(again.workouts).toBe(Number((await one<{ n: string }>('select count(*) as n from source.workout')).n));

    await seedSource(pool, { ...BASE, seed: 8, replace: true });
    const other = await fingerprint();
    expect(other.workout).not.toBe(first.workout);
    expect(other.member).not.toBe(first.member);
    expect(other.class).not.toBe(first.class);

    // Back to the data the other tests read.
    await seedSource(pool, { ...BASE, replace: true });
    expect(await fingerprint()).toEqual(first);
  });

  it('refuses to seed over existing data without --replace, and changes nothing', async () => {
    const before = await fingerprint();
    const error = await seedSource(pool, BASE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceInputError);
    expect((error as Error).message).toMatch(/already hold data: pass --replace/);
    expect(await fingerprint()).toEqual(before);
  });

  it('records a seed in the audit log in the same transaction as the load', async () => {
    const before = await fingerprint();
    const entries = () => q<{ actor: string; auth: string; action: string; target: string; details: Record<string, unknown> }>(
      `select actor, auth, action, target, details from audit_log where action = 'source.seed' order by id`,
    );
    const already = (await entries()).length;
    // An audit entry that cannot be written (auth outside the check constraint) rolls the whole seed back.
    const broken = await seedSource(pool, { ...BASE, seed: 9, replace: true, audit: { actor: 'cli:test', auth: 'nope' as 'cli' } }).catch((e: unknown) => e);
    expect(String(broken)).toMatch(/audit_log_auth_check|check constraint|Failed query/);
    expect(await fingerprint()).toEqual(before);
    expect(await entries()).toHaveLength(already);

    const summary = await seedSource(pool, { ...BASE, replace: true, audit: { actor: 'cli:test', auth: 'cli' } });
    expect(await fingerprint()).toEqual(before);
    const all = await entries();
    expect(all).toHaveLength(already + 1);
    expect(all.at(-1)).toEqual({
      actor: 'cli:test',
      auth: 'cli',
      action: 'source.seed',
      target: 'source',
      details: {
        members: BASE.members,
        instructors: summary.instructors,
        classes: BASE.classes,
        workouts: summary.workouts,
        days: BASE.days,
        seed: BASE.seed,
        until: UNTIL.toISOString(),
        replaced: true,
      },
    });
  });

  it('rejects bad options before touching the database', async () => {
    for (const bad of [{ members: 0 }, { days: 1.5 }, { classes: 50 }, { seed: -1 }, { until: new Date('nope') }]) {
      await expect(seedSource(pool, { ...BASE, ...bad, replace: true })).rejects.toBeInstanceOf(SourceInputError);
    }
    expect(Number((await one<{ n: string }>('select count(*) as n from source.member')).n)).toBe(BASE.members);
  });

  it('has a catalogue shaped like a fitness platform', async () => {
    const byDiscipline = await q<{ discipline: string; durations: number[]; n: string }>(
      `select discipline, array_agg(distinct duration_min order by duration_min) as durations, count(*) as n from source.class group by discipline`,
    );
    expect(byDiscipline.map((r) => r.discipline).sort()).toEqual(DISCIPLINES.map((d) => d.name).sort());
    for (const row of byDiscipline) {
      const allowed = DISCIPLINES.find((d) => d.name === row.discipline)!.durations;
      for (const minutes of row.durations) expect(allowed).toContain(minutes);
      for (const minutes of row.durations) expect(minutes >= 5 && minutes <= 90).toBe(true);
    }
    expect(byDiscipline.find((r) => r.discipline === 'meditation')!.durations.every((d) => [5, 10, 15, 20].includes(d))).toBe(true);
    expect(byDiscipline.find((r) => r.discipline === 'stretching')!.durations.every((d) => [5, 10, 15].includes(d))).toBe(true);

    const classes = await one<{ n: string; encore: string; nulls: string; titled: string }>(
      `select count(*) as n, count(*) filter (where is_encore) as encore,
              count(*) filter (where discipline is null or duration_min is null or instructor_id is null or language is null or difficulty is null or aired_at is null) as nulls,
              count(*) filter (where title ~ ('^' || duration_min || ' min .+ with [A-Z]')) as titled
       from source.class`,
    );
    expect(Number(classes.n)).toBe(BASE.classes);
    expect(Number(classes.nulls)).toBe(0);
    expect(Number(classes.titled)).toBe(BASE.classes); // "30 min Power Zone Ride with Ana"
    const encoreShare = Number(classes.encore) / BASE.classes;
    expect(encoreShare).toBeGreaterThanOrEqual(0.005);
    expect(encoreShare).toBeLessThanOrEqual(0.02);
    const encoreTitles = await q<{ title: string }>(`select title from source.class where is_encore`);
    for (const { title } of encoreTitles) expect(title).toMatch(/Anniversary|Special|Live DJ|Celebration|Race Day|Turkey Trot|Holiday|New Year/);

    // New classes air on every day of the window; a back catalogue aired before it.
    const days = await one<{ window_days: string; back: string }>(
      `select count(distinct (aired_at at time zone 'UTC')::date) filter (where aired_at >= $1) as window_days,
              count(*) filter (where aired_at < $1) as back
       from source.class`,
      [WINDOW_START],
    );
    expect(Number(days.window_days)).toBe(90);
    expect(Number(days.back)).toBeGreaterThan(BASE.classes / 2);

    // Instructors teach 1–3 disciplines, each class in its instructor's language.
    const instructors = await q<{ instructor_id: string; disciplines: string; languages: string }>(
      `select instructor_id, count(distinct discipline) as disciplines, count(distinct language) as languages from source.class group by instructor_id`,
    );
    for (const row of instructors) {
      expect(Number(row.disciplines)).toBeGreaterThanOrEqual(1);
      expect(Number(row.disciplines)).toBeLessThanOrEqual(4);
      expect(Number(row.languages)).toBe(1);
    }
    const dangling = await one<{ n: string }>(`select count(*) as n from source.class c where not exists (select 1 from source.instructor i where i.instructor_id = c.instructor_id)`);
    expect(Number(dangling.n)).toBe(0);
  });

  it('has workouts inside the window, after signup and after the class aired', async () => {
    const w = await one<{ n: number; outside: number; before_signup: number; before_air: number; orphans: number; completion_bad: number }>(
      `select count(*) as n,
              count(*) filter (where w.started_at < $1 or w.started_at >= $2) as outside,
              count(*) filter (where w.started_at < m.signup_at) as before_signup,
              count(*) filter (where w.started_at < c.aired_at) as before_air,
              count(*) filter (where m.member_id is null or c.class_id is null) as orphans,
              count(*) filter (where w.completion is null or w.completion <= 0 or w.completion > 1) as completion_bad
       from source.workout w left join source.member m using (member_id) left join source.class c using (class_id)`,
      [WINDOW_START, UNTIL],
    );
    expect(Number(w.n)).toBeGreaterThan(BASE.members * 10); // a few workouts a week each
    expect({ outside: w.outside, before_signup: w.before_signup, before_air: w.before_air, orphans: w.orphans, completion_bad: w.completion_bad }).toEqual({
      outside: 0,
      before_signup: 0,
      before_air: 0,
      orphans: 0,
      completion_bad: 0,
    });
    const zones = await q<{ timezone: string }>(`select distinct timezone from source.member`);
    expect(zones.length).toBeGreaterThan(5);
    for (const { timezone } of zones) expect(() => new Intl.DateTimeFormat('en-US', { timeZone: timezone })).not.toThrow();
    // Heavy-tailed activity: the busiest tenth of members does far more than the median member.
    const activity = await one<{ p50: number; p90: number; max: string }>(
      `select percentile_cont(0.5) within group (order by n) as p50, percentile_cont(0.9) within group (order by n) as p90, max(n) as max
       from (select count(*) as n from source.workout group by member_id) x`,
    );
    expect(activity.p90).toBeGreaterThan(2 * activity.p50);
  });

  it('has cold-start members (recent signup, no workouts) and members inactive for 60+ days', async () => {
    const cold = await one<{ n: string }>(
      `select count(*) as n from source.member m
       where m.signup_at >= $1::timestamptz - interval '7 days' and not exists (select 1 from source.workout w where w.member_id = m.member_id)`,
      [UNTIL],
    );
    expect(Number(cold.n)).toBeGreaterThan(BASE.members * 0.01);
    const inactive = await one<{ n: string }>(
      `select count(*) as n from (select member_id, max(started_at) as last from source.workout group by member_id) x where last < $1::timestamptz - interval '60 days'`,
      [UNTIL],
    );
    expect(Number(inactive.n)).toBeGreaterThan(BASE.members * 0.02);
  });

  it('has stable tastes: a member’s top discipline and usual duration predict their later workouts better than popularity does', async () => {
    // Train on everything before the last 14 days, test on the last 14 days.
    const cut = new Date(UNTIL.getTime() - 14 * 86_400_000);
    const result = await one<{ members: string; heuristic: number; popular: number; duration_heuristic: number; duration_popular: number }>(
      `with w as (
         select w.member_id, w.started_at, c.discipline, c.duration_min from source.workout w join source.class c using (class_id)
       ),
       train as (select * from w where started_at < $1), test as (select * from w where started_at >= $1),
       eligible as (select member_id from train group by member_id having count(*) >= 5
                    intersect select member_id from test group by member_id),
       top as (select distinct on (member_id) member_id, discipline from train where member_id in (select member_id from eligible)
               group by member_id, discipline order by member_id, count(*) desc, discipline),
       usual as (select distinct on (member_id) member_id, duration_min from train where member_id in (select member_id from eligible)
                 group by member_id, duration_min order by member_id, count(*) desc, duration_min),
       popular as (select discipline from train group by discipline order by count(*) desc limit 1),
       popular_duration as (select duration_min from train group by duration_min order by count(*) desc limit 1),
       per_member as (
         select t.member_id,
                avg((t.discipline = top.discipline)::int) as heuristic,
                avg((t.discipline = (select discipline from popular))::int) as popular,
                avg((t.duration_min = usual.duration_min)::int) as duration_heuristic,
                avg((t.duration_min = (select duration_min from popular_duration))::int) as duration_popular
         from test t join top using (member_id) join usual using (member_id) group by t.member_id
       )
       select count(*) as members, avg(heuristic)::float8 as heuristic, avg(popular)::float8 as popular,
              avg(duration_heuristic)::float8 as duration_heuristic, avg(duration_popular)::float8 as duration_popular
       from per_member`,
      [cut],
    );
    expect(Number(result.members)).toBeGreaterThan(BASE.members / 2);
    // Stable: most of a member's later workouts are in the discipline they did most before.
    expect(result.heuristic).toBeGreaterThan(0.5);
    // …and that beats guessing the most popular discipline by a wide margin.
    expect(result.heuristic).toBeGreaterThan(result.popular + 0.2);
    expect(result.duration_heuristic).toBeGreaterThan(result.duration_popular + 0.05);
  });

  it('has drift: some members take up a discipline in the second half they barely did in the first', async () => {
    const mid = new Date(WINDOW_START.getTime() + 45 * 86_400_000);
    const drift = await one<{ n: string }>(
      `with w as (select w.member_id, c.discipline, w.started_at >= $1 as late from source.workout w join source.class c using (class_id)),
       share as (select member_id, discipline,
                        count(*) filter (where not late)::float8 / nullif(sum(count(*) filter (where not late)) over (partition by member_id), 0) as early_share,
                        count(*) filter (where late)::float8 / nullif(sum(count(*) filter (where late)) over (partition by member_id), 0) as late_share,
                        sum(count(*) filter (where late)) over (partition by member_id) as late_n
                 from w group by member_id, discipline)
       select count(distinct member_id) as n from share where early_share < 0.05 and late_share > 0.3 and late_n >= 8`,
      [mid],
    );
    expect(Number(drift.n)).toBeGreaterThan(BASE.members * 0.01);
  });

  it('repeats and sequences: some classes are retaken, and long rides are often followed by a short stretch', async () => {
    const repeats = await one<{ n: string }>(`select count(*) as n from (select member_id, class_id from source.workout group by 1, 2 having count(*) > 1) x`);
    expect(Number(repeats.n)).toBeGreaterThan(100);
    const after = await one<{ stretch_after_cardio: number; stretch_overall: number }>(
      `with w as (select w.member_id, w.started_at, c.discipline, c.duration_min,
                         lead(c.discipline) over (partition by w.member_id order by w.started_at, w.workout_id) as next_discipline,
                         lead(w.started_at) over (partition by w.member_id order by w.started_at, w.workout_id) as next_at
                  from source.workout w join source.class c using (class_id))
       select avg((next_discipline = 'stretching' and next_at < started_at + (duration_min + 5) * interval '1 minute')::int)
                filter (where discipline in ('cycling', 'running') and duration_min >= 20)::float8 as stretch_after_cardio,
              avg((discipline = 'stretching')::int)::float8 as stretch_overall
       from w`,
    );
    expect(after.stretch_after_cardio).toBeGreaterThan(after.stretch_overall);
  });
});
