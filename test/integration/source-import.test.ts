/**
 * `importInteractions` / `importItems` against a real PostgreSQL: real CSV (BOM, CRLF, quoted
 * commas, quotes and line breaks), ids kept as text, placeholders and upserts over them, bad
 * rows reported by line with nothing landing, `--replace`, and a file streamed in many batches.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SourceInputError } from '../../daily-picks/source/errors.ts';
import { SOURCE_ID_MAX_LENGTH } from '../../daily-picks/source/ids.ts';
import { importInteractions, importItems, type InteractionsImportOptions } from '../../daily-picks/source/import-csv.ts';
import { useTestDatabase } from '../support/database.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/csv/', import.meta.url));

describe('flywheel import', { timeout: 120_000 }, () => {
  const connection = useTestDatabase();
  let pool: pg.Pool;
  let dir: string;
  const q = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await pool.query<T>(text, values)).rows;
  const count = async (table: string) => Number((await q<{ n: number }>(`select count(*) as n from ${table}`))[0]!.n);
  const counts = async () => ({
    member: await count('source.member'),
    instructor: await count('source.instructor'),
    class: await count('source.class'),
    workout: await count('source.workout'),
  });
  let fileNo = 0;
  const file = async (content: string | Buffer) => {
    const name = path.join(dir, `f${(fileNo += 1)}.csv`);
    await writeFile(name, content);
    return name;
  };
  const interactions = (f: string, extra: Partial<InteractionsImportOptions> = {}) =>
    importInteractions(pool, { file: f, userCol: 'user', itemCol: 'item', timeCol: 'time', ...extra });
  const failure = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => {
        throw new Error('expected the import to fail');
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SourceInputError);
    return error as SourceInputError;
  };

  beforeAll(async () => {
    pool = connection.pool;
    dir = await mkdtemp(path.join(os.tmpdir(), 'flywheel-import-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await pool.query('truncate source.workout, source.member, source.class, source.instructor restart identity');
  });

  it('imports interactions from real CSV: BOM, CRLF, quoted commas, quotes and line breaks, ISO and unix times', async () => {
    const csv =
      '\uFEFFuser,item,time,note\r\n' +
      '007,"c,1",1764288000,"a, b"\r\n' +
      '007,c2,2025-11-28T08:15:00Z,"she said ""hi"""\r\n' +
      '\r\n' + // a blank line
      '0042,c2,2025-11-28 19:05:00+01:00,"two\r\nlines"\r\n' +
      '0042," c 3",2025-11-28,x'; // no final newline; an id with spaces, kept exactly
    const summary = await interactions(await file(csv));
    expect(summary).toMatchObject({ kind: 'interactions', rows: 4, workouts: 4, membersAdded: 2, placeholderClasses: 3, replaced: false });
    // The time range imported, so a user knows which as-of times see the data.
    expect(summary).toMatchObject({ firstAt: '2025-11-28T00:00:00.000Z', lastAt: '2025-11-28T18:05:00.000Z' });
    const rows = await q<{ member_id: string; class_id: string; started_at: Date; completion: number | null }>(
      'select member_id, class_id, started_at, completion from source.workout order by workout_id',
    );
    expect(rows.map((r) => [r.member_id, r.class_id, r.started_at.toISOString(), r.completion])).toEqual([
      ['007', 'c,1', '2025-11-28T00:00:00.000Z', null],
      ['007', 'c2', '2025-11-28T08:15:00.000Z', null],
      ['0042', 'c2', '2025-11-28T18:05:00.000Z', null],
      ['0042', ' c 3', '2025-11-28T00:00:00.000Z', null],
    ]);
    // Members with just their id; placeholder classes titled with their id, so joins work.
    expect(await q('select member_id, signup_at, timezone from source.member order by member_id')).toEqual([
      { member_id: '0042', signup_at: null, timezone: null },
      { member_id: '007', signup_at: null, timezone: null },
    ]);
    expect((await q<{ class_id: string; title: string }>('select class_id, title from source.class order by class_id')).map((r) => [r.class_id, r.title])).toEqual([
      [' c 3', ' c 3'],
      ['c,1', 'c,1'],
      ['c2', 'c2'],
    ]);
    // A second import adds to the first; known members and classes are not added twice.
    const again = await interactions(await file('user,item,time\n007,c2,1764374400\n9,c9,1764374400\n'));
    expect(again).toMatchObject({ rows: 2, workouts: 2, membersAdded: 1, placeholderClasses: 1 });
    expect(await counts()).toEqual({ member: 3, instructor: 0, class: 4, workout: 6 });
  });

  it('imports the fixture files: interactions, then items upserting over the placeholders', async () => {
    const i = await importInteractions(pool, { file: path.join(FIXTURES, 'interactions.csv'), userCol: 'user_id', itemCol: 'item_id', timeCol: 'timestamp' });
    expect(i).toMatchObject({ rows: 4, workouts: 4, membersAdded: 2, placeholderClasses: 3 });
    const items = await importItems(pool, {
      file: path.join(FIXTURES, 'items.csv'),
      itemCol: 'item_id',
      titleCol: 'title',
      categoryCol: 'category',
      durationCol: 'minutes',
      creatorCol: 'creator',
    });
    expect(items).toMatchObject({ kind: 'items', rows: 3, classesAdded: 1, classesUpdated: 2, instructorsAdded: 2, duplicateIds: 0, placeholderClasses: 0 });
    expect(await q('select class_id, title, discipline, duration_min, instructor_id from source.class order by class_id')).toEqual([
      { class_id: '101', title: '20 min Ride, Fast', discipline: 'cycling', duration_min: 20, instructor_id: 'Ana Ruiz' },
      { class_id: '102', title: 'Yoga "Flow"', discipline: 'yoga', duration_min: 30, instructor_id: 'Ruiz, Ana' },
      { class_id: '103', title: '103', discipline: null, duration_min: null, instructor_id: null }, // still a placeholder
      { class_id: '104', title: 'Sleep Meditation', discipline: 'meditation', duration_min: 10, instructor_id: null },
    ]);
    expect(await q('select instructor_id, name from source.instructor order by instructor_id')).toEqual([
      { instructor_id: 'Ana Ruiz', name: 'Ana Ruiz' },
      { instructor_id: 'Ruiz, Ana', name: 'Ruiz, Ana' },
    ]);
    // Every workout joins to a class.
    expect(Number((await q<{ n: number }>('select count(*) as n from source.workout w join source.class using (class_id)'))[0]!.n)).toBe(4);
  });

  it('items: only the columns given are set, an empty cell keeps the existing value, a repeated id takes the last row', async () => {
    await importItems(pool, { file: await file('id,name,cat,len\nA1,Ride,cycling,30\nA2,Run,running,20\n'), itemCol: 'id', titleCol: 'name', categoryCol: 'cat', durationCol: 'len' });
    const s = await importItems(pool, { file: await file('id,len,cat\nA1,45,\nA1,60,\nA3,,\n'), itemCol: 'id', durationCol: 'len', categoryCol: 'cat' });
    expect(s).toMatchObject({ rows: 3, classesAdded: 1, classesUpdated: 1, duplicateIds: 1 });
    expect(await q('select class_id, title, discipline, duration_min from source.class order by class_id')).toEqual([
      { class_id: 'A1', title: 'Ride', discipline: 'cycling', duration_min: 60 },
      { class_id: 'A2', title: 'Run', discipline: 'running', duration_min: 20 },
      { class_id: 'A3', title: 'A3', discipline: null, duration_min: null },
    ]);
  });

  it('reports every bad row with its line number (line breaks in quoted fields counted) and imports nothing', async () => {
    await interactions(await file('user,item,time\nkeep,c0,1764288000\n')); // existing data must survive
    const before = await counts();
    const error = await failure(importInteractions(pool, { file: path.join(FIXTURES, 'interactions-bad.csv'), userCol: 'user_id', itemCol: 'item_id', timeCol: 'timestamp' }));
    expect(error.details).toMatchObject({ badRowCount: 4 });
    expect((error.details.badRows as { line: number }[]).map((b) => b.line)).toEqual([3, 6, 7, 8]);
    expect(error.message).toMatch(/^4 bad rows in .*interactions-bad\.csv; nothing was imported:/);
    expect(error.message).toContain('line 3: time "yesterday" in column "timestamp" is neither unix seconds nor ISO 8601');
    expect(error.message).toContain('line 6: no value in column "user_id" (--user-col)');
    expect(error.message).toContain('line 7: no value in column "timestamp" (--time-col)');
    expect(error.message).toContain('line 8: time "2025-02-30"');
    expect(await counts()).toEqual(before);
  });

  it('a bad row after many good batches still rolls everything back; past 100 bad rows it lists 100 and counts the rest', async () => {
    const lines = ['user,item,time'];
    for (let i = 0; i < 3000; i += 1) lines.push(`u${i},c${i % 50},${1764288000 + i}`);
    lines.push('late,c1,not-a-time'); // line 3002
    const late = await failure(interactions(await file(lines.join('\r\n')), { batchSize: 500 }));
    expect(late.details).toMatchObject({ badRowCount: 1, badRows: [{ line: 3002 }] });
    expect(await counts()).toEqual({ member: 0, instructor: 0, class: 0, workout: 0 });

    const many = ['user,item,time'];
    for (let i = 0; i < 250; i += 1) many.push(`u${i},c${i},${i % 2 === 0 ? 'soon' : '1764288000'}`);
    const error = await failure(interactions(await file(`${many.join('\n')}\n`)));
    expect(error.details.badRowCount).toBe(125);
    const listed = error.details.badRows as { line: number }[];
    expect(listed).toHaveLength(100);
    expect(listed[0]!.line).toBe(2);
    expect(listed[99]!.line).toBe(200);
    expect(error.message).toContain('… and 25 more bad rows');
    expect(await counts()).toEqual({ member: 0, instructor: 0, class: 0, workout: 0 });
  });

  it('reports malformed CSV (an unclosed quote) at the line its row starts on', async () => {
    const error = await failure(interactions(await file('user,item,time\n1,a,1764288000\n2,"b,1764288000\n3,c,1764288000\n')));
    expect(error.details).toMatchObject({ badRowCount: 1 });
    expect((error.details.badRows as { line: number; message: string }[])[0]).toMatchObject({ line: 3, message: expect.stringMatching(/malformed CSV/) });
    const stray = await failure(interactions(await file('user,item,time,note\r\n1,a,1764288000,"x\r\ny"\r\n2,"b"x,1764288000,\r\n3,c,1764288000,\r\n')));
    expect(stray.details.badRows).toEqual([{ line: 4, message: expect.stringMatching(/^malformed CSV \(Invalid Closing Quote/) }]);
    expect(await counts()).toEqual({ member: 0, instructor: 0, class: 0, workout: 0 });
  });

  it('rejects unknown column names and unreadable files before reading any row', async () => {
    const f = await file('user,item,time\n1,a,1764288000\n');
    const error = await failure(interactions(f, { timeCol: 'ts', userCol: 'member' }));
    expect(error.message).toMatch(/unknown column: --user-col "member", --time-col "ts" \(the header of .* has "user", "item", "time"\)/);
    await failure(importItems(pool, { file: f, itemCol: 'item', durationCol: 'minutes' }));
    await failure(interactions(path.join(dir, 'missing.csv')));
    await failure(interactions(await file('')));
    expect((await failure(interactions(await file('"user,item,time\n1,a,1764288000\n')))).message).toMatch(/line 1: malformed CSV header/);
    expect(await counts()).toEqual({ member: 0, instructor: 0, class: 0, workout: 0 });
  });

  it('ids follow the shared rule (1–256 characters, no control characters, kept exactly): a bad member, item or creator id is a bad row', async () => {
    const longest = 'x'.repeat(SOURCE_ID_MAX_LENGTH);
    const tooLong = 'y'.repeat(SOURCE_ID_MAX_LENGTH + 1);
    // Spaces are allowed and kept; the longest allowed id lands whole.
    const ok = await interactions(await file(`user,item,time\n" 015 ",${longest},1764288000\n`));
    expect(ok).toMatchObject({ workouts: 1, membersAdded: 1, placeholderClasses: 1 });
    expect(await q('select member_id, class_id from source.workout')).toEqual([{ member_id: ' 015 ', class_id: longest }]);
    const before = await counts();

    const error = await failure(
      interactions(await file(`user,item,time\n${tooLong},c1,1764288000\nok,"tab\there",1764288000\n"bell\u0007",c2,1764288000\nfine,c3,1764288000\n`)),
    );
    expect((error.details.badRows as { line: number; message: string }[]).map((b) => [b.line, b.message])).toEqual([
      [2, `member id "${'y'.repeat(40)}…" in column "user" (--user-col) is 257 characters long (at most 256)`],
      [3, 'item id "tab\\there" in column "item" (--item-col) contains a control character'],
      [4, 'member id "bell\\u0007" in column "user" (--user-col) contains a control character'],
    ]);
    expect(await counts()).toEqual(before);

    const items = await failure(
      importItems(pool, { file: await file(`id,name,who\n${tooLong},Long,Ana\nA2,Two,"Ana\nRuiz"\nA3,Three,${tooLong}\nA4,Four,Ana\n`), itemCol: 'id', titleCol: 'name', creatorCol: 'who' }),
    );
    expect((items.details.badRows as { line: number; message: string }[]).map((b) => [b.line, b.message])).toEqual([
      [2, `item id "${'y'.repeat(40)}…" in column "id" (--item-col) is 257 characters long (at most 256)`],
      [3, 'creator "Ana\\nRuiz" in column "who" (--creator-col, it becomes an instructor id) contains a control character'],
      [5, `creator "${'y'.repeat(40)}…" in column "who" (--creator-col, it becomes an instructor id) is 257 characters long (at most 256)`],
    ]);
    expect(await counts()).toEqual(before);
  });

  it('refuses ambiguous (YYYYMMDD) and implausible times as bad rows; unix seconds and milliseconds in range land', async () => {
    const tomorrowPlus = Math.floor(Date.now() / 1000) + 2 * 86_400;
    const error = await failure(
      interactions(await file(`user,item,time\nu1,c1,1764288000\nu2,c1,20260301\nu3,c1,1764288000000\nu4,c1,1700\nu5,c1,${tomorrowPlus}\nu6,c1,1985-05-01\n`)),
    );
    const bad = error.details.badRows as { line: number; message: string }[];
    expect(bad.map((b) => b.line)).toEqual([3, 5, 6, 7]);
    expect(bad[0]!.message).toBe(
      'time "20260301" in column "time" is ambiguous: 8 digits look like a YYYYMMDD date but would read as unix seconds (1970-08-23T11:51:41Z); if it is a date, write it in ISO 8601: 2026-03-01',
    );
    expect(bad[1]!.message).toMatch(/^time "1700" in column "time" is 1970-01-01T00:28:20Z, before 1990-01-01: implausible/);
    expect(bad[2]!.message).toMatch(/more than a day in the future: implausible/);
    expect(bad[3]!.message).toMatch(/^time "1985-05-01" in column "time" is 1985-05-01T00:00:00Z, before 1990-01-01: implausible/);
    expect(await counts()).toEqual({ member: 0, instructor: 0, class: 0, workout: 0 });

    const ok = await interactions(await file('user,item,time\nu1,c1,1764288000\nu3,c1,1764288000000\nu7,c1,2026-03-01\n'));
    expect(ok).toMatchObject({ workouts: 3 });
    expect((await q<{ started_at: Date }>('select started_at from source.workout order by workout_id')).map((r) => r.started_at.toISOString())).toEqual([
      '2025-11-28T00:00:00.000Z',
      '2025-11-28T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
    ]);
  });

  it('a row with more or fewer fields than the header is a bad row with its line', async () => {
    const error = await failure(
      interactions(await file('user,item,time\nu1,c1,1764288000\nu2,c1,1764288000,extra\nu3,"c,1"\n\nu4,c1,1764288000,\nu5,"c\n1",1764288000,"x","y"\nu6,c2,1764288000\n')),
    );
    expect(error.details.badRows).toEqual([
      { line: 3, message: 'row has 4 fields, the header has 3' },
      { line: 4, message: 'row has 2 fields, the header has 3' },
      { line: 6, message: 'row has 4 fields, the header has 3' }, // an empty trailing field counts
      { line: 7, message: 'row has 5 fields, the header has 3' },
    ]);
    const items = await failure(importItems(pool, { file: await file('id,name\nA1,One\nA2\nA3,Three,3\n'), itemCol: 'id', titleCol: 'name' }));
    expect(items.details.badRows).toEqual([
      { line: 3, message: 'row has 1 field, the header has 2' },
      { line: 4, message: 'row has 3 fields, the header has 2' },
    ]);
    expect(await counts()).toEqual({ member: 0, instructor: 0, class: 0, workout: 0 });
  });

  it('items: a bad duration or a missing id is reported by line and nothing lands', async () => {
    const error = await failure(importItems(pool, { file: await file('id,len\nA1,30\n,20\nA3,thirty\nA4,-5\n'), itemCol: 'id', durationCol: 'len' }));
    expect((error.details.badRows as { line: number; message: string }[]).map((b) => [b.line, b.message])).toEqual([
      [3, 'no value in column "id" (--item-col)'],
      [4, 'duration "thirty" in column "len" is not a number of minutes'],
      [5, 'duration "-5" in column "len" is not a number of minutes'],
    ]);
    expect(await counts()).toEqual({ member: 0, instructor: 0, class: 0, workout: 0 });
  });

  it('--replace empties the target tables in the same transaction (and a failed replace keeps the old data)', async () => {
    await interactions(await file('user,item,time\nold1,c1,1764288000\nold2,c2,1764288000\n'));
    await importItems(pool, { file: await file('id,name\nc1,One\nc3,Three\n'), itemCol: 'id', titleCol: 'name' });
    // A bad file with --replace: nothing is emptied.
    await failure(interactions(await file('user,item,time\nnew,c1,never\n'), { replace: true }));
    expect(await counts()).toEqual({ member: 2, instructor: 0, class: 3, workout: 2 });

    const replaced = await interactions(await file('user,item,time\nnew,c1,1764288000\n'), { replace: true });
    expect(replaced).toMatchObject({ replaced: true, replacedTables: ['source.workout', 'source.member'], workouts: 1, membersAdded: 1, placeholderClasses: 0 });
    // c2 was only a placeholder for the old interactions: gone with them. c1 is still taken, c3 was described.
    expect(replaced.placeholdersRemoved).toBe(1);
    expect(await q('select class_id from source.class order by class_id')).toEqual([{ class_id: 'c1' }, { class_id: 'c3' }]);
    expect(await q('select member_id from source.member')).toEqual([{ member_id: 'new' }]);
    expect(await q('select workout_id, member_id from source.workout')).toEqual([{ workout_id: 1, member_id: 'new' }]); // identity restarted

    // Items --replace: the catalogue is the file's; classes workouts still reference come back as placeholders.
    const items = await importItems(pool, { file: await file('id,name\nc9,Nine\n'), itemCol: 'id', titleCol: 'name', replace: true });
    expect(items).toMatchObject({ replaced: true, replacedTables: ['source.class', 'source.instructor'], classesAdded: 1, placeholderClasses: 1 });
    expect(await q('select class_id, title from source.class order by class_id')).toEqual([
      { class_id: 'c1', title: 'c1' },
      { class_id: 'c9', title: 'Nine' },
    ]);
  });

  it('records each import in the audit log, in the same transaction: a failed import leaves no entry', async () => {
    const audit = { actor: 'cli:tester', auth: 'cli' as const };
    const entries = () => q<{ actor: string; auth: string; action: string; target: string; details: Record<string, unknown> }>(
      `select actor, auth, action, target, details from audit_log where action like 'source.%' order by id`,
    );
    const already = (await entries()).length;
    const f1 = await file('user,item,time\nu1,c1,1764288000\nu2,c2,1764288000\nu1,c2,1764288001\n');
    await interactions(f1, { replace: true, audit });
    const f2 = await file('id,name,who\nc1,One,Ana\nc3,Three,Ana\nc1,Uno,\n');
    await importItems(pool, { file: f2, itemCol: 'id', titleCol: 'name', creatorCol: 'who', audit });
    // Bad rows: nothing lands, no entry.
    await failure(interactions(await file('user,item,time\nu9,c9,never\n'), { audit }));
    // Without `audit` (a library caller that records its own), no entry either.
    await interactions(await file('user,item,time\nu3,c1,1764288000\n'));
    expect((await entries()).slice(already)).toEqual([
      {
        actor: 'cli:tester',
        auth: 'cli',
        action: 'source.import_interactions',
        target: f1,
        details: { file: f1, rows: 3, workouts: 3, membersAdded: 2, placeholderClasses: 2, placeholdersRemoved: 0, replaced: true, replacedTables: ['source.workout', 'source.member'] },
      },
      {
        actor: 'cli:tester',
        auth: 'cli',
        action: 'source.import_items',
        target: f2,
        details: { file: f2, rows: 3, classesAdded: 1, classesUpdated: 1, instructorsAdded: 1, duplicateIds: 1, placeholderClasses: 0, replaced: false, replacedTables: [] },
      },
    ]);
    // An entry that cannot be written rolls the import back with it.
    const before = await counts();
    await expect(interactions(await file('user,item,time\nu8,c8,1764288000\n'), { audit: { actor: 'x', auth: 'nope' as 'cli' } })).rejects.toThrow();
    await expect(importItems(pool, { file: await file('id\nc8\n'), itemCol: 'id', audit: { actor: 'x', auth: 'nope' as 'cli' } })).rejects.toThrow();
    expect(await counts()).toEqual(before);
    expect((await entries()).length).toBe(already + 2);
  });

  it('streams a large file in batches', async () => {
    const rows = 60_000;
    const chunks: string[] = ['user,item,time\n'];
    for (let i = 0; i < rows; i += 1) chunks.push(`m${i % 7000},"class ${i % 900}, part ${Math.floor(i / 900) % 3}",${1764288000 + i}\n`);
    const summary = await interactions(await file(chunks.join('')), { batchSize: 4000 });
    expect(summary).toMatchObject({ rows, workouts: rows, membersAdded: 7000, placeholderClasses: 2700 });
    expect(await counts()).toEqual({ member: 7000, instructor: 0, class: 2700, workout: rows });
  });
});
