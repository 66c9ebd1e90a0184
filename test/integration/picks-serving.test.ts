/**
 * Cold-start and inactive members on a hand-built history (a model ranking serves every member it
 * ranks, inactive or not: the serving plan, not the rows step, decides who gets which ranking), and the picks API / CLI against a
 * real PostgreSQL and Redis: `cache` normally, `database` when the cache pointer is gone,
 * `heuristics` for a member with workouts the published set lacks, `popular` for an unknown
 * id, 400 for a malformed one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemberPicksView } from '../../daily-picks/picks-reader.ts';
import { PicksCacheKeys } from '../../daily-picks/picks-cache.ts';
import { ArtifactPaths } from '../../daily-picks/paths.ts';
import { writeIdOrderRanking } from '../fixtures/dags-picks/_ranker.ts';
import { Children, parseJson, runCli } from './proc-support.ts';
import { DAY_MS, day, insertSource, insertWorkouts, PicksWorld, publishedRows, runSteps, startPicksApi, stepContext, type ClassSpec } from '../support/picks.ts';

const AS_OF = day('2026-05-01');
const at = (daysBefore: number, hour = 7) => new Date(AS_OF.getTime() - daysBefore * DAY_MS + hour * 3_600_000);
const MODEL = 'test-model-v1';

const CLASSES: ClassSpec[] = [
  ...Array.from({ length: 12 }, (_, i): ClassSpec => ({ id: `cyc${String(i).padStart(2, '0')}`, title: `Power Ride ${i}`, discipline: 'cycling', duration: 30, instructor: 'ix', airedAt: day('2026-03-01', i) })),
  ...Array.from({ length: 5 }, (_, i): ClassSpec => ({ id: `str${i}`, title: `Core ${i}`, discipline: 'strength', duration: 10, instructor: 'iy', airedAt: day('2026-03-05', i) })),
  ...Array.from({ length: 5 }, (_, i): ClassSpec => ({ id: `yoga${i}`, title: `Flow ${i}`, discipline: 'yoga', duration: 45, instructor: 'iz', airedAt: day('2026-03-10', i) })),
];

describe('cold-start and inactive members; the picks API and CLI', { timeout: 120_000 }, () => {
  let world: PicksWorld;
  let api: Awaited<ReturnType<typeof startPicksApi>>;
  const children = new Children();
  let publicationId: number;
  const get = async (memberId: string, query = '') => {
    const res = await fetch(`${api.url}/members/${encodeURIComponent(memberId)}/picks${query}`);
    return { status: res.status, body: (await res.json()) as MemberPicksView & { error?: string } };
  };

  beforeAll(async () => {
    world = await PicksWorld.create();
    await insertSource(world, {
      instructors: ['ix:Ana', 'iy:Ben', 'iz:Cleo'],
      classes: CLASSES,
      members: [{ id: 'active' }, { id: 'inactive' }, { id: 'cold' }, { id: 'popular-maker' }],
      workouts: [
        // active: five rides in the last ten days.
        ...[0, 1, 2, 3, 4].map((i) => ({ member: 'active', cls: `cyc0${i}`, at: at(10 - i) })),
        // inactive: two rides 80 days ago (≥ inactiveDays = 60).
        { member: 'inactive', cls: 'cyc05', at: at(80) },
        { member: 'inactive', cls: 'cyc06', at: at(79) },
        // someone makes strength popular lately.
        ...[1, 2, 3].flatMap((d) => ['str0', 'str1'].map((cls) => ({ member: 'popular-maker', cls, at: at(d, 9) }))),
      ],
    });
    const step = stepContext('run_serving', { start: day('2026-04-30'), end: AS_OF }, { rowSize: 4, rankedSize: 12 });
    const result = await runSteps(world, step, {
      // A model that ranks every member with history (the inactive one too): inactivity alone is no reason to fall back.
      model: (extract) => writeIdOrderRanking(extract, new ArtifactPaths(world.artifactsDir, step.dagId).runFile(step.runId, 'model.arrow'), MODEL),
    });
    expect(result.rows.sources).toEqual({ model: 3, ease: 0, baseline: 0, heuristics: 0, popularity: 1 });
    expect(result.rows.inactiveMembers).toBe(1);
    publicationId = result.publish!.publicationId;
    api = await startPicksApi(world);
  });
  afterAll(async () => {
    await children.killAll();
    await api?.close();
    await world?.close();
  });

  it('publishes model rows for every member the model ranked, inactive ones too, and popularity without history', async () => {
    const versions = await world.query<{ member_id: string; versions: string[] }>('select member_id, array_agg(distinct model_version) as versions from picks group by member_id order by member_id');
    expect(Object.fromEntries(versions.map((v) => [v.member_id, v.versions]))).toEqual({
      active: [MODEL],
      cold: ['popularity'],
      inactive: [MODEL],
      'popular-maker': [MODEL],
    });
    // The cold member's rows are the popular classes (strength leads), with popular reasons.
    const cold = await publishedRows(world, 'cold');
    expect(cold.get('ranked')![0]!.classId).toMatch(/^str[01]$/);
    // This world has a dozen workouts: the popularity window stretches over all of them, and the reason says so ("Popular in …", not "this week").
    for (const row of cold.values()) for (const pick of row) expect(pick.reason).toMatch(/^(Popular (this week |this month )?in|New this week: )/);
    // The inactive member's usual row still follows their history (rides), never the two they took.
    const inactive = await publishedRows(world, 'inactive');
    expect(inactive.get('for_your_usual')!.every((p) => p.classId.startsWith('cyc'))).toBe(true);
    expect([...inactive.values()].flat().some((p) => p.classId === 'cyc05' || p.classId === 'cyc06')).toBe(false);
    // The active member's ranked row is the model's order (id descending), their rides left out.
    expect((await publishedRows(world, 'active')).get('ranked')!.map((p) => p.classId)).toEqual(
      CLASSES.map((c) => c.id)
        .filter((id) => !['cyc00', 'cyc01', 'cyc02', 'cyc03', 'cyc04'].includes(id))
        .sort()
        .reverse()
        .slice(0, 12),
    );
  });

  it('serves a published member from the cache, in the documented shape, rows in order', async () => {
    const { status, body } = await get('active');
    expect(status).toBe(200);
    expect(body).toMatchObject({ memberId: 'active', source: 'cache', modelVersion: MODEL });
    expect(Number.isNaN(Date.parse(body.generatedAt!))).toBe(false);
    expect(body.rows.map((r) => r.row)).toEqual(['for_your_usual', 'quick_workout', 'something_new', 'ranked']);
    const first = body.rows[0]!.picks[0]!;
    expect(Object.keys(first).sort()).toEqual(['classId', 'discipline', 'durationMin', 'instructor', 'reason', 'score', 'title']);
    expect(first).toMatchObject({ classId: 'cyc11', title: 'Power Ride 11', discipline: 'cycling', durationMin: 30, instructor: 'Ana' });
    for (const row of body.rows) for (const pick of row.picks) expect(Number.isFinite(pick.score) && pick.reason.length > 0).toBe(true);
    const only = await get('active', '?rows=quick_workout,ranked');
    expect(only.body.rows.map((r) => r.row)).toEqual(['quick_workout', 'ranked']);
    // The inactive member's cached rows say where they came from.
    expect((await get('inactive')).body).toMatchObject({ source: 'cache', modelVersion: MODEL });
  });

  it('serves popular rows for an unknown member, and heuristic rows for a member with workouts the set does not know', async () => {
    const unknown = await get('nobody-at-all');
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ memberId: 'nobody-at-all', source: 'popular', modelVersion: 'popularity' });
    expect(unknown.body.rows.length).toBeGreaterThan(0);
    const published = (await world.query<{ popular_rows: { row: string; picks: { classId: string }[] }[] }>('select popular_rows from picks_publication where id = $1', [publicationId]))[0]!;
    expect(unknown.body.rows.map((r) => [r.row, r.picks.map((p) => p.classId)])).toEqual(published.popular_rows.map((r) => [r.row, r.picks.map((p) => p.classId)]));

    // A member who joined after the publish: rows computed on request from their workouts.
    await insertWorkouts(world, [
      { member: 'newbie', cls: 'yoga0', at: new Date(Date.now() - 2 * DAY_MS) },
      { member: 'newbie', cls: 'yoga1', at: new Date(Date.now() - DAY_MS) },
    ]);
    const newbie = await get('newbie');
    expect(newbie.status).toBe(200);
    expect(newbie.body).toMatchObject({ source: 'heuristics', modelVersion: 'heuristics' });
    const usual = newbie.body.rows.find((r) => r.row === 'for_your_usual')!;
    expect(usual.picks.length).toBeGreaterThan(0);
    expect(usual.picks.every((p) => p.discipline === 'yoga')).toBe(true);
    expect(newbie.body.rows.flatMap((r) => r.picks).some((p) => p.classId === 'yoga0' || p.classId === 'yoga1')).toBe(false);
  });

  it('rejects a malformed member id or rows parameter with 400 and a reason', async () => {
    for (const bad of ['', 'x'.repeat(257), 'tab\there', 'bell\u0007']) {
      const { status, body } = await get(bad);
      expect(status, bad).toBe(400);
      expect(body.error).toMatch(/^memberId: /);
    }
    for (const query of ['?rows=Bad!', '?rows=bogus', '?rows=ranked,bogus']) {
      const rows = await get('active', query);
      expect(rows.status, query).toBe(400);
      expect(rows.body.error).toMatch(/^rows: /);
    }
  });

  it('the CLI prints the same picks; status names the publication; a malformed id exits 2', async () => {
    const env = world.childEnv();
    const json = await runCli(children, ['picks', 'active', '--json'], env);
    expect(json.code).toBe(0);
    const view = parseJson<MemberPicksView>(json);
    const fromApi = (await get('active')).body;
    expect(view).toEqual(fromApi);
    const text = await runCli(children, ['picks', 'active'], env);
    expect(text.stdout).toContain(`member active — source cache, model ${MODEL}`);
    expect(text.stdout).toMatch(/for_your_usual \(4\)\n\s+1\. Power Ride 11 · 30 min · cycling · Ana {2}\[[0-9.e-]+\] {2}\S/);
    // `picks show <id>` is the same, and also reaches a member whose id is a subcommand name.
    expect(parseJson<MemberPicksView>(await runCli(children, ['picks', 'show', 'active', '--json'], env))).toEqual(fromApi);
    const named = parseJson<MemberPicksView>(await runCli(children, ['picks', 'show', 'status', '--json'], env));
    expect(named).toMatchObject({ memberId: 'status', source: 'popular' });
    const status = parseJson<{ runId: string; members: number }>(await runCli(children, ['picks', 'status', '--json'], env));
    expect(status).toMatchObject({ runId: 'run_serving', members: 4 });
    const bad = await runCli(children, ['picks', 'tab\there'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/memberId: /);
  });

  it('falls back to PostgreSQL when the cache pointer is gone, with the same rows', async () => {
    const cached = (await get('active')).body;
    await world.redis.del(new PicksCacheKeys(world.prefix).current);
    // The API re-reads the pointer at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const fromDb = (await get('active')).body;
    expect(fromDb.source).toBe('database');
    expect(fromDb.modelVersion).toBe(MODEL);
    expect(fromDb.generatedAt).toBe(cached.generatedAt);
    // The same picks, row by row. Scores are float32 in both stores; PostgreSQL's text form of a
    // real is its shortest decimal, so compare them as float32.
    const f32 = (rows: MemberPicksView['rows']) => rows.map((r) => ({ ...r, picks: r.picks.map((p) => ({ ...p, score: Math.fround(p.score) })) }));
    expect(f32(fromDb.rows)).toEqual(f32(cached.rows));
    // An unknown member still gets popular rows (from the publication row).
    expect((await get('nobody-at-all')).body).toMatchObject({ source: 'popular', modelVersion: 'popularity' });
    expect((await get('nobody-at-all')).body.rows.length).toBeGreaterThan(0);
  });
});
