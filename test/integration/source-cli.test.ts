/**
 * `flywheel seed` and `flywheel import …` as a user runs them: `node bin/flywheel.js` child
 * processes against a fresh database.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import { Children, parseJson, runCli, type CliResult } from './proc-support.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/csv/', import.meta.url));

describe('flywheel seed / import (CLI)', { timeout: 120_000 }, () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let client: pg.Client;
  const children = new Children();
  const cli = (...args: string[]) =>
    runCli(children, args, { ...process.env, DATABASE_URL: database.url, FLYWHEEL_LOG_LEVEL: 'silent' }, 90_000);
  const count = async (table: string) => Number((await client.query<{ n: number }>(`select count(*) as n from ${table}`)).rows[0]!.n);

  /** Bad input: exit 2, `error: …` on stderr. */
  function expectBadInput(result: CliResult, message: RegExp) {
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(2);
    expect(result.stderr).toMatch(/^error: /m);
    expect(result.stderr).toMatch(message);
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });
  afterAll(async () => {
    await children.killAll();
    await client?.end();
    await database?.drop();
  });

  it('seed --json fills the source tables and prints a summary; a second seed needs --replace', async () => {
    const args = ['seed', '--members', '300', '--classes', '200', '--days', '75', '--seed', '5', '--until', '2026-11-28'];
    const result = await cli(...args, '--json');
    expect(result.code, result.stderr).toBe(0);
    const summary = parseJson<{ members: number; instructors: number; classes: number; workouts: number; seconds: number; until: string; windowStart: string; seed: number }>(result);
    expect(summary).toMatchObject({ members: 300, classes: 200, seed: 5, until: '2026-11-28T00:00:00.000Z', windowStart: '2026-09-14T00:00:00.000Z' });
    expect(summary.seconds).toBeGreaterThanOrEqual(0);
    expect({ members: await count('source.member'), instructors: await count('source.instructor'), classes: await count('source.class'), workouts: await count('source.workout') }).toEqual({
      members: 300,
      instructors: summary.instructors,
      classes: 200,
      workouts: summary.workouts,
    });
    const hash = async () => (await client.query<{ h: string }>(`select md5(string_agg(w::text, ',' order by workout_id)) as h from source.workout w`)).rows[0]!.h;
    const first = await hash();

    const refused = await cli(...args, '--json');
    expectBadInput(refused, /already hold data: pass --replace/);
    expect(parseJson<{ error: string; nonEmpty: string[] }>(refused).nonEmpty).toContain('source.workout');
    expect(await hash()).toBe(first);

    const replaced = await cli(...args, '--replace');
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stdout).toMatch(/^seeded 300 members, \d+ instructors, 200 classes, \d+ workouts in [\d.]+ s/);
    expect(replaced.stdout).toContain('seed 5, replaced the previous source data');
    expect(await hash()).toBe(first); // same options, same data
  });

  it('seed rejects bad options with exit 2', async () => {
    expectBadInput(await cli('seed', '--members', 'many', '--classes', '200', '--days', '30'), /--members: "many" is not an integer/);
    expectBadInput(await cli('seed', '--members', '10', '--classes', '20', '--days', '30', '--replace'), /--classes must be at least \d+ for --days 30/);
    expectBadInput(await cli('seed', '--members', '10', '--classes', '200', '--days', '30', '--until', 'tomorrow', '--replace'), /--until: "tomorrow" is not an ISO 8601 date/);
    expectBadInput(await cli('seed', '--members', '10', '--days', '30'), /required option '--classes <n>' not specified/);
    expect(await count('source.member')).toBe(300);
  });

  it('import interactions and items from the fixture CSVs', async () => {
    const i = await cli('import', 'interactions', '--file', path.join(FIXTURES, 'interactions.csv'), '--user-col', 'user_id', '--item-col', 'item_id', '--time-col', 'timestamp', '--replace', '--json');
    expect(i.code, i.stderr).toBe(0);
    expect(parseJson(i)).toMatchObject({ kind: 'interactions', rows: 4, workouts: 4, membersAdded: 2, placeholderClasses: 3, replaced: true });
    expect(await count('source.workout')).toBe(4);
    expect((await client.query(`select distinct member_id from source.workout order by 1`)).rows).toEqual([{ member_id: '007' }, { member_id: '42' }]);

    const items = await cli('import', 'items', '--file', path.join(FIXTURES, 'items.csv'), '--item-col', 'item_id', '--title-col', 'title', '--category-col', 'category', '--duration-col', 'minutes', '--creator-col', 'creator');
    expect(items.code, items.stderr).toBe(0);
    expect(items.stdout).toMatch(/^imported 3 rows from .*items\.csv/);
    expect(items.stdout).toContain('1 new classes, 2 updated, 2 new instructors');
    expect((await client.query(`select title, discipline, duration_min, instructor_id from source.class where class_id = '102'`)).rows).toEqual([
      { title: 'Yoga "Flow"', discipline: 'yoga', duration_min: 30, instructor_id: 'Ruiz, Ana' },
    ]);
  });

  it('import reports bad rows by line with exit 2 and imports nothing; unknown columns fail before reading', async () => {
    const before = await count('source.workout');
    const args = ['import', 'interactions', '--file', path.join(FIXTURES, 'interactions-bad.csv'), '--user-col', 'user_id', '--item-col', 'item_id', '--time-col', 'timestamp'];
    const human = await cli(...args);
    expectBadInput(human, /4 bad rows in .*interactions-bad\.csv; nothing was imported:/);
    expect(human.stdout).toBe('');
    expect(human.stderr.match(/^ {2}line \d+/gm)).toEqual(['  line 3', '  line 6', '  line 7', '  line 8']);
    const json = await cli(...args, '--json');
    expectBadInput(json, /nothing was imported/);
    const report = parseJson<{ badRowCount: number; badRows: { line: number; message: string }[] }>(json);
    expect(report.badRowCount).toBe(4);
    expect(report.badRows.map((b) => b.line)).toEqual([3, 6, 7, 8]);
    expect(await count('source.workout')).toBe(before);

    expectBadInput(await cli('import', 'items', '--file', path.join(FIXTURES, 'items.csv'), '--item-col', 'id'), /unknown column: --item-col "id"/);
    expectBadInput(await cli('import', 'items', '--file', path.join(FIXTURES, 'nope.csv'), '--item-col', 'id'), /cannot read .*nope\.csv: ENOENT/);
    expectBadInput(await cli('import', 'interactions', '--file', 'x.csv'), /required option/);
  });

  it('every successful seed and import is in the audit log as cli:<OS user>; refused ones are not', async () => {
    const rows = (await client.query<{ actor: string; auth: string; action: string; target: string; details: Record<string, unknown> }>(
      `select actor, auth, action, target, details from audit_log where action like 'source.%' order by id`,
    )).rows;
    const actor = `cli:${os.userInfo().username}`;
    // The tests above ran: seed, (refused seed), seed --replace, import interactions --replace, import items, (a refused import).
    expect(rows.map((r) => [r.actor, r.auth, r.action])).toEqual([
      [actor, 'cli', 'source.seed'],
      [actor, 'cli', 'source.seed'],
      [actor, 'cli', 'source.import_interactions'],
      [actor, 'cli', 'source.import_items'],
    ]);
    expect(rows[0]!.details).toMatchObject({ members: 300, classes: 200, days: 75, seed: 5, until: '2026-11-28T00:00:00.000Z', replaced: false });
    expect(rows[1]!.details).toMatchObject({ members: 300, replaced: true });
    expect(rows[2]).toMatchObject({ target: path.join(FIXTURES, 'interactions.csv'), details: { rows: 4, workouts: 4, membersAdded: 2, placeholderClasses: 3, replaced: true } });
    expect(rows[3]).toMatchObject({ target: path.join(FIXTURES, 'items.csv'), details: { rows: 3, classesAdded: 1, classesUpdated: 2, instructorsAdded: 2, replaced: false } });
  });

  it('says to migrate first when the database has no source tables', async () => {
    const bare = new URL(database.url);
    bare.pathname = `/${database.name}_bare`;
    const admin = new URL(database.url);
    admin.pathname = '/postgres';
    const adminClient = new pg.Client({ connectionString: admin.toString() });
    await adminClient.connect();
    try {
      await adminClient.query(`create database "${database.name}_bare"`);
      const env = { ...process.env, DATABASE_URL: bare.toString(), FLYWHEEL_LOG_LEVEL: 'silent' };
      for (const args of [
        ['seed', '--members', '10', '--classes', '200', '--days', '10'],
        ['import', 'items', '--file', path.join(FIXTURES, 'items.csv'), '--item-col', 'item_id'],
      ]) {
        expectBadInput(await runCli(children, args, env), /no source tables yet: run `flywheel db migrate` first|no Flywheel tables yet/);
      }
    } finally {
      await adminClient.query(`drop database if exists "${database.name}_bare" with (force)`);
      await adminClient.end();
    }
  });
});
