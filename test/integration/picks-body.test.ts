/**
 * The picks API writes its JSON from the cached bytes (`PicksReader.getBody`) instead of
 * building the view and stringifying it. It must be byte for byte what `JSON.stringify(get())`
 * gives, for every member and row filter, also with awkward strings in titles, names, reasons
 * and ids (quotes, backslashes, control characters, non-ASCII, astral plane).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PicksReader, type MemberPicksView } from '../../daily-picks/picks-reader.ts';
import { seedSource } from '../../daily-picks/source/seed.ts';
import { day, PicksWorld, runSteps, stepContext } from '../support/picks.ts';

const UNTIL = '2026-08-01';
const AWKWARD = ['quote " in', 'back\\slash', 'tab\tand\nnewline', 'ctrl \u0001 char', 'ünïcødé ✓', 'emoji 😀 astral', '</script>', "it's"];

describe('picks API body', { timeout: 120_000 }, () => {
  let world: PicksWorld;
  let reader: PicksReader;
  let members: string[];

  beforeAll(async () => {
    world = await PicksWorld.create();
    await seedSource(world.pool, { members: 120, classes: 150, days: 30, seed: 5, until: day(UNTIL) });
    // Awkward instructor names end up in reasons (cached) and in the hydrated instructor field;
    // awkward titles only in the hydrated title.
    const instructors = await world.query<{ instructor_id: string }>('select instructor_id from source.instructor order by instructor_id');
    for (const [i, { instructor_id }] of instructors.entries()) {
      await world.query('update source.instructor set name = $2 where instructor_id = $1', [instructor_id, `${AWKWARD[i % AWKWARD.length]} ${i}`]);
    }
    await world.query(`update source.class set title = $1 || ' ' || class_id where right(class_id, 1) in ('1', '3', '7')`, [AWKWARD.join(' | ')]);
    // A class with unknown metadata: null title fields must serialise as null.
    await world.query(`update source.class set discipline = null, duration_min = null where right(class_id, 1) = '5'`);
    await runSteps(world, stepContext('run-body', { start: day(UNTIL, -1), end: day(UNTIL) }));
    reader = new PicksReader({ db: world.db, redis: world.redis, cachePrefix: world.prefix });
    members = (await world.query<{ member_id: string }>('select distinct member_id from picks order by 1')).map((r) => r.member_id);
  });
  afterAll(async () => {
    await world?.close();
  });

  const filtered = (view: MemberPicksView, rows?: ReadonlySet<string>) => (rows ? { ...view, rows: view.rows.filter((r) => rows.has(r.row)) } : view);

  it('equals JSON.stringify(get()) for every published member, with and without row filters', async () => {
    expect(members.length).toBeGreaterThan(100);
    const filters: (ReadonlySet<string> | undefined)[] = [undefined, new Set(['for_your_usual']), new Set(['ranked', 'something_new']), new Set(['no_such_row'])];
    let compared = 0;
    for (const member of members) {
      const view = await reader.get(member);
      expect(view.source).toBe('cache');
      for (const rows of filters) {
        const { source, body } = await reader.getBody(member, rows);
        expect(source).toBe('cache');
        expect(body.toString('utf8'), `${member} ${rows ? [...rows].join(',') : 'all rows'}`).toBe(JSON.stringify(filtered(view, rows)));
        compared += 1;
      }
    }
    expect(compared).toBe(members.length * filters.length);
  });

  it('the awkward strings really are in the responses compared', async () => {
    const bodies = await Promise.all(members.slice(0, 40).map(async (m) => (await reader.getBody(m)).body.toString('utf8')));
    const all = bodies.join('\n');
    expect(all).toContain('emoji 😀 astral');
    expect(all).toContain('\\u0001');
    expect(all).toContain('quote \\" in');
    expect(all).toContain('"discipline":null');
  });

  it('off the cache path (unknown member) it is the view serialised', async () => {
    const view = await reader.get('nobody-here');
    const { source, body } = await reader.getBody('nobody-here');
    expect(source).toBe('popular');
    expect(body.toString('utf8')).toBe(JSON.stringify(view));
  });
});
