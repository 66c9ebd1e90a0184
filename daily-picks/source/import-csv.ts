/**
 * `flywheel import interactions|items`: streams a CSV file (header row; RFC 4180 quoting, so
 * fields may hold commas, quotes and line breaks; UTF-8 BOM; CRLF or LF) into `source.*`.
 * The import lands whole or not at all: one transaction, rolled back when any row is bad, with
 * every bad row reported by its line number in the file (the first 100, and a count).
 */
import type pg from 'pg';
import { inClientTransaction } from '../../core/db/transaction.ts';
import { auditSourceWrite, type SourceAudit } from './audit.ts';
import { BadRows, cell, idCellProblem, openCsv, quote } from './csv-reader.ts';
import { sourceIdProblem } from './ids.ts';
import { parseDuration, readTime } from './csv-values.ts';

/** An import reads its CSV stream once, so its transaction cannot run again after a deadlock. */
const ONCE = { attempts: 1 };

export interface InteractionsImportOptions {
  file: string;
  userCol: string;
  itemCol: string;
  timeCol: string;
  /** Empty source.workout and source.member first, in the same transaction. */
  replace?: boolean;
  /** Rows per insert statement (default 5,000). */
  batchSize?: number;  /** Record the import in the audit log as this actor, in the same transaction. */
  audit?: SourceAudit;
}

export interface ItemsImportOptions {
  file: string;
  itemCol: string;
  titleCol?: string;
  categoryCol?: string;
  durationCol?: string;
  creatorCol?: string;
  /** Empty source.class and source.instructor first, in the same transaction. */
  replace?: boolean;
  batchSize?: number;  /** Record the import in the audit log as this actor, in the same transaction. */
  audit?: SourceAudit;
}

export interface InteractionsSummary {
  kind: 'interactions';
  file: string;
  /** Data rows read (blank lines not counted). */
  rows: number;
  workouts: number;
  membersAdded: number;
  /** Items the file references that had no `source.class` row: added with title = id. */
  placeholderClasses: number;
  /** With `replace`: placeholder classes (an id and nothing else) no interaction references any more, removed. */
  placeholdersRemoved: number;
  /**
   * The time range of the imported interactions (ISO 8601; null when none): a run reads the
   * history before its as-of time, so this says which logical dates see the data.
   */
  firstAt: string | null;
  lastAt: string | null;
  replaced: boolean;
  replacedTables: string[];
  seconds: number;
}

export interface ItemsSummary {
  kind: 'items';
  file: string;
  rows: number;
  classesAdded: number;
  /** Existing classes (including placeholders) updated with the file's values. */
  classesUpdated: number;
  instructorsAdded: number;
  /** Rows whose item id appeared on an earlier row (the last row wins). */
  duplicateIds: number;
  /** After `--replace`: classes re-added as placeholders because workouts reference them. */
  placeholderClasses: number;
  replaced: boolean;
  replacedTables: string[];
  seconds: number;
}

export type ImportSummary = InteractionsSummary | ItemsSummary;

// ---------------------------------------------------------------------------------------
// Interactions

/** One interaction row checked: its member, item and time (unix seconds), or every problem with it in one line. */
export type InteractionRow = { user: string; item: string; seconds: number; rawTime: string } | { problem: string };

/** Reads one data row of an interactions CSV (columns as `openCsv` indexed them), as the import checks it. */
export function readInteractionRow(
  fields: readonly string[],
  index: Record<'user' | 'item' | 'time', number | undefined>,
  columns: { userCol: string; itemCol: string; timeCol: string },
  nowMs: number,
): InteractionRow {
  const user = cell(fields, index.user);
  const item = cell(fields, index.item);
  const time = cell(fields, index.time);
  const problems: string[] = [];
  for (const problem of [idCellProblem('member id', user, columns.userCol, '--user-col'), idCellProblem('item id', item, columns.itemCol, '--item-col')]) {
    if (problem !== null) problems.push(problem);
  }
  let seconds = Number.NaN;
  if (time === undefined || time.trim() === '') problems.push(`no value in column "${columns.timeCol}" (--time-col)`);
  else {
    const read = readTime(time, nowMs);
    if ('problem' in read) problems.push(`time ${quote(time)} in column "${columns.timeCol}" ${read.problem}`);
    else seconds = read.seconds;
  }
  if (problems.length > 0) return { problem: problems.join('; ') };
  return { user: user!, item: item!, seconds, rawTime: time! };
}

/** Imports workouts from a CSV file: members are added with just their id, unknown items as placeholder classes. */
export async function importInteractions(pool: pg.Pool, options: InteractionsImportOptions): Promise<InteractionsSummary> {
  const began = performance.now();
  const batchSize = options.batchSize ?? 5000;
  const csv = await openCsv(options.file, {
    user: { flag: '--user-col', name: options.userCol },
    item: { flag: '--item-col', name: options.itemCol },
    time: { flag: '--time-col', name: options.timeCol },
  });
  const bad = new BadRows();
  const nowMs = Date.now();
  const replacedTables = options.replace ? ['source.workout', 'source.member'] : [];
  const summary = await inClientTransaction(pool, async (client) => {
    if (options.replace) await client.query('truncate source.workout, source.member restart identity');
    let rows = 0;
    let workouts = 0;
    let membersAdded = 0;
    let placeholderClasses = 0;
    let firstSeconds = Number.POSITIVE_INFINITY;
    let lastSeconds = Number.NEGATIVE_INFINITY;
    let users: string[] = [];
    let items: string[] = [];
    let times: number[] = [];
    const flush = async () => {
      if (users.length === 0) return;
      const [u, i, t] = [users, items, times];
      users = [];
      items = [];
      times = [];
      membersAdded += (await client.query(`insert into source.member (member_id) select distinct m from unnest($1::text[]) m on conflict do nothing`, [u])).rowCount ?? 0;
      placeholderClasses +=
        (await client.query(`insert into source.class (class_id, title) select distinct c, c from unnest($1::text[]) c on conflict do nothing`, [i])).rowCount ?? 0;
      workouts +=
        (
          await client.query(
            `insert into source.workout (member_id, class_id, started_at) select m, c, to_timestamp(s) from unnest($1::text[], $2::text[], $3::float8[]) as u(m, c, s)`,
            [u, i, t],
          )
        ).rowCount ?? 0;
    };
    for await (const row of csv.rows) {
      if ('error' in row) {
        bad.add(row.line, row.error);
        break;
      }
      rows += 1;
      if (row.problem !== undefined) {
        bad.add(row.line, row.problem);
        continue;
      }
      const read = readInteractionRow(row.fields, csv.index, options, nowMs);
      if ('problem' in read) {
        bad.add(row.line, read.problem);
        continue;
      }
      if (bad.count > 0) continue; // nothing will land: just keep checking the rest
      const { user, item, seconds } = read;
      users.push(user);
      items.push(item);
      times.push(seconds);
      if (seconds < firstSeconds) firstSeconds = seconds;
      if (seconds > lastSeconds) lastSeconds = seconds;
      if (users.length >= batchSize) await flush();
    }
    if (bad.count > 0) bad.fail(options.file);
    await flush();
    // Replaced interactions leave behind the placeholders made for the old ones (an id and nothing
    // else): classes nobody took and nobody described would otherwise stay in every catalogue.
    const placeholdersRemoved = options.replace
      ? ((
          await client.query(
            `delete from source.class c where c.title = c.class_id and c.discipline is null and c.duration_min is null and c.instructor_id is null
               and c.language is null and c.difficulty is null and c.aired_at is null and not c.is_encore
               and not exists (select 1 from source.workout w where w.class_id = c.class_id)`,
          )
        ).rowCount ?? 0)
      : 0;
    await auditSourceWrite(client, options.audit, 'source.import_interactions', options.file, {
      file: options.file,
      rows,
      workouts,
      membersAdded,
      placeholderClasses,
      placeholdersRemoved,
      replaced: Boolean(options.replace),
      replacedTables,
    });
    const iso = (seconds: number) => (Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : null);
    return { rows, workouts, membersAdded, placeholderClasses, placeholdersRemoved, firstAt: iso(firstSeconds), lastAt: iso(lastSeconds) };
  }, ONCE);
  return {
    kind: 'interactions',
    file: options.file,
    ...summary,
    replaced: Boolean(options.replace),
    replacedTables,
    seconds: Math.round(performance.now() - began) / 1000,
  };
}

// ---------------------------------------------------------------------------------------
// Items

/**
 * Imports classes from a CSV file, upserting over existing rows (placeholders included): a
 * supplied column sets its value, an empty cell or a column not supplied leaves the existing
 * one. A creator becomes an instructor whose id and name are the creator text.
 */
export async function importItems(pool: pg.Pool, options: ItemsImportOptions): Promise<ItemsSummary> {
  const began = performance.now();
  const batchSize = options.batchSize ?? 5000;
  const optional = (flag: string, name: string | undefined) => (name === undefined ? undefined : { flag, name });
  const csv = await openCsv(options.file, {
    item: { flag: '--item-col', name: options.itemCol },
    title: optional('--title-col', options.titleCol),
    category: optional('--category-col', options.categoryCol),
    duration: optional('--duration-col', options.durationCol),
    creator: optional('--creator-col', options.creatorCol),
  });
  const bad = new BadRows();
  const replacedTables = options.replace ? ['source.class', 'source.instructor'] : [];
  const summary = await inClientTransaction(pool, async (client) => {
    if (options.replace) await client.query('truncate source.class, source.instructor');
    let rows = 0;
    let classesAdded = 0;
    let classesUpdated = 0;
    let instructorsAdded = 0;
    let duplicateIds = 0;
    const seen = new Set<string>();
    // One batch, keyed by id (a repeated id within the batch: the last row wins).
    let batch = new Map<string, { title: string | null; category: string | null; duration: number | null; creator: string | null }>();
    const flush = async () => {
      if (batch.size === 0) return;
      const entries = [...batch];
      batch = new Map();
      const ids = entries.map(([id]) => id);
      const titles = entries.map(([, v]) => v.title);
      const categories = entries.map(([, v]) => v.category);
      const durations = entries.map(([, v]) => v.duration);
      const creators = entries.map(([, v]) => v.creator);
      instructorsAdded +=
        (await client.query(`insert into source.instructor (instructor_id, name) select distinct c, c from unnest($1::text[]) c where c is not null on conflict do nothing`, [creators]))
          .rowCount ?? 0;
      const params = [ids, titles, categories, durations, creators];
      const values = `unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[]) as u(i, t, d, m, c)`;
      classesUpdated +=
        (
          await client.query(
            `update source.class k set title = coalesce(u.t, k.title), discipline = coalesce(u.d, k.discipline),
                    duration_min = coalesce(u.m, k.duration_min), instructor_id = coalesce(u.c, k.instructor_id)
             from ${values} where k.class_id = u.i`,
            params,
          )
        ).rowCount ?? 0;
      classesAdded +=
        (
          await client.query(
            `insert into source.class (class_id, title, discipline, duration_min, instructor_id)
             select i, coalesce(t, i), d, m, c from ${values} on conflict (class_id) do nothing`,
            params,
          )
        ).rowCount ?? 0;
    };
    const optionalCell = (fields: string[], at: number | undefined) => {
      const v = cell(fields, at);
      return v === undefined || v.trim() === '' ? null : v;
    };
    for await (const row of csv.rows) {
      if ('error' in row) {
        bad.add(row.line, row.error);
        break;
      }
      rows += 1;
      if (row.problem !== undefined) {
        bad.add(row.line, row.problem);
        continue;
      }
      const item = cell(row.fields, csv.index.item);
      const problems: string[] = [];
      const itemProblem = idCellProblem('item id', item, options.itemCol, '--item-col');
      if (itemProblem !== null) problems.push(itemProblem);
      const creator = optionalCell(row.fields, csv.index.creator);
      const creatorProblem = creator === null ? null : sourceIdProblem(creator);
      if (creatorProblem !== null) problems.push(`creator ${quote(creator!)} in column "${options.creatorCol}" (--creator-col, it becomes an instructor id) ${creatorProblem}`);
      const durationText = optionalCell(row.fields, csv.index.duration);
      const duration = durationText === null ? null : parseDuration(durationText);
      if (durationText !== null && duration === null) problems.push(`duration ${JSON.stringify(durationText)} in column "${options.durationCol}" is not a number of minutes`);
      if (problems.length > 0) {
        bad.add(row.line, problems.join('; '));
        continue;
      }
      if (seen.has(item!)) duplicateIds += 1;
      else seen.add(item!);
      if (bad.count > 0) continue;
      batch.delete(item!); // keep file order for the last occurrence
      batch.set(item!, {
        title: optionalCell(row.fields, csv.index.title),
        category: optionalCell(row.fields, csv.index.category),
        duration,
        creator,
      });
      if (batch.size >= batchSize) await flush();
    }
    if (bad.count > 0) bad.fail(options.file);
    await flush();
    let placeholderClasses = 0;
    if (options.replace) {
      // Workouts keep joining: classes they reference that the file did not bring come back as placeholders.
      placeholderClasses =
        (
          await client.query(
            `insert into source.class (class_id, title)
             select distinct w.class_id, w.class_id from source.workout w
             where not exists (select 1 from source.class k where k.class_id = w.class_id)`,
          )
        ).rowCount ?? 0;
    }
    await auditSourceWrite(client, options.audit, 'source.import_items', options.file, {
      file: options.file,
      rows,
      classesAdded,
      classesUpdated,
      instructorsAdded,
      duplicateIds,
      placeholderClasses,
      replaced: Boolean(options.replace),
      replacedTables,
    });
    return { rows, classesAdded, classesUpdated, instructorsAdded, duplicateIds, placeholderClasses };
  }, ONCE);
  return {
    kind: 'items',
    file: options.file,
    ...summary,
    replaced: Boolean(options.replace),
    replacedTables,
    seconds: Math.round(performance.now() - began) / 1000,
  };
}
