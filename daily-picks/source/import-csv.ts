/**
 * `flywheel import interactions|items`: streams a CSV file (header row; RFC 4180 quoting, so
 * fields may hold commas, quotes and line breaks; UTF-8 BOM; CRLF or LF) into `source.*`.
 * The import lands whole or not at all: one transaction, rolled back when any row is bad, with
 * every bad row reported by its line number in the file (the first 100, and a count).
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { parse } from 'csv-parse';
import type pg from 'pg';
import { inClientTransaction } from '../../core/db/transaction.ts';
import { auditSourceWrite, type SourceAudit } from './audit.ts';
import { SourceInputError } from './errors.ts';
import { sourceIdProblem } from './ids.ts';

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

export interface BadRow {
  line: number;
  message: string;
}

/** Bad rows listed in a report; the rest are counted. */
export const MAX_REPORTED_BAD_ROWS = 100;

// ---------------------------------------------------------------------------------------
// Parsing values

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * A time as unix seconds (digits, optionally with a fraction; a value of 10^11 or more is read as
 * milliseconds) or ISO 8601 (`2026-03-01`, `2026-03-01T07:30:00Z`, `2026-03-01 07:30:00+01:00`;
 * no offset means UTC). Returns unix seconds, or null when it is neither. Syntax only: imports
 * read times with `readTime`, which also refuses ambiguous and implausible ones.
 */
export function parseTime(text: string): number | null {
  const value = text.trim();
  if (/^[+-]?\d+(\.\d+)?$/.test(value)) {
    const n = Number(value);
    if (!Number.isFinite(n)) return null;
    const seconds = Math.abs(n) >= 1e11 ? n / 1000 : n;
    // PostgreSQL's timestamptz range, roughly: 4713 BC … 294276 AD.
    return Math.abs(seconds) < 9e12 ? seconds : null;
  }
  const m = ISO.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return null;
  let offsetMin = 0;
  const zone = m[8];
  if (zone && zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    const h = Number(z[2]);
    const mm = Number(z[3] ?? '0');
    if (h > 23 || mm > 59) return null;
    offsetMin = (z[1] === '-' ? -1 : 1) * (h * 60 + mm);
  }
  const fraction = m[7] ? Number(m[7]) : 0;
  return Date.UTC(year, month - 1, day, hour, minute, second) / 1000 + fraction - offsetMin * 60;
}

/** The earliest plausible workout time: 1990-01-01T00:00:00Z, in unix seconds. */
export const EARLIEST_TIME = Date.UTC(1990, 0, 1) / 1000;
/** How far past now a time may lie (clock skew, time zones): one day, in seconds. */
export const FUTURE_SLACK_SECONDS = 86_400;

function isoSeconds(seconds: number): string {
  const ms = seconds * 1000;
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().replace('.000Z', 'Z') : `${seconds} s after 1970`;
}

/**
 * A workout time as `flywheel import` reads it: `parseTime`, then refused when it is ambiguous or
 * implausible. Eight digits (`20260301`) look like an ISO basic date but would read as unix seconds
 * in 1970, so they are refused with a hint to write `2026-03-01`; a time before 1990-01-01 or more
 * than a day after `nowMs` is refused as implausible (usually seconds and milliseconds mixed up, or
 * a wrong column). Returns unix seconds, or the problem (a phrase to follow the quoted value).
 */
export function readTime(text: string, nowMs = Date.now()): { seconds: number } | { problem: string } {
  const value = text.trim();
  if (/^\d{8}$/.test(value)) {
    const iso = `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}`;
    const hint = parseTime(iso) === null ? 'write dates in ISO 8601 (YYYY-MM-DD, such as 2026-03-01)' : `if it is a date, write it in ISO 8601: ${iso}`;
    return { problem: `is ambiguous: 8 digits look like a YYYYMMDD date but would read as unix seconds (${isoSeconds(Number(value))}); ${hint}` };
  }
  const seconds = parseTime(value);
  if (seconds === null) return { problem: 'is neither unix seconds nor ISO 8601' };
  if (seconds < EARLIEST_TIME) return { problem: `is ${isoSeconds(seconds)}, before 1990-01-01: implausible for a workout (seconds and milliseconds mixed up?)` };
  if (seconds > nowMs / 1000 + FUTURE_SLACK_SECONDS) return { problem: `is ${isoSeconds(seconds)}, more than a day in the future: implausible for a workout` };
  return { seconds };
}

/** A duration in minutes (`30`, `30.0`, `7.5` → rounded to whole minutes), or null when it is not one. */
export function parseDuration(text: string): number | null {
  const value = text.trim();
  if (!/^\d+(\.\d+)?$/.test(value)) return null;
  const n = Math.round(Number(value));
  return n >= 0 && n <= 100_000 ? n : null;
}

// ---------------------------------------------------------------------------------------
// Reading the file

interface CsvRow {
  /** Line of the file the row starts on (the header is line 1). */
  line: number;
  fields: string[];
  /** Set when the row cannot be read as the header's columns (a different number of fields). */
  problem?: string;
}

function countLineBreaks(fields: readonly string[]): number {
  let n = 0;
  for (const field of fields) {
    for (let i = 0; i < field.length; i += 1) {
      const c = field.charCodeAt(i);
      if (c === 10) n += 1;
      else if (c === 13) {
        n += 1;
        if (field.charCodeAt(i + 1) === 10) i += 1;
      }
    }
  }
  return n;
}

/**
 * Opens a CSV file: reads its header and resolves each named column to its index (an unknown
 * name is an error before any row is read), then yields the data rows with their line numbers.
 * Blank lines are skipped. A structural error (an unclosed quote) ends the file with a bad row.
 */
async function openCsv<K extends string>(file: string, columns: Record<K, { flag: string; name: string } | undefined>) {
  try {
    await access(file);
  } catch (error) {
    throw new SourceInputError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  // A structural error (an unclosed quote) is skipped by the parser rather than thrown, so the rows
  // before it are not lost; `records` says how many came before it, which gives its line.
  let structural: { records: number; message: string } | null = null;
  const parser = createReadStream(file).pipe(
    parse({
      bom: true,
      relax_column_count: true,
      skip_empty_lines: false,
      skip_records_with_error: true,
      on_skip: (error) => {
        if (error && !structural) structural = { records: Number((error as { records?: number }).records ?? 0), message: error.message.replace(/ at line \d+/, '') };
        return undefined;
      },
    }),
  );
  const iterator = parser[Symbol.asyncIterator]() as AsyncIterator<string[]>;
  let nextLine = 1;
  const first = await iterator.next().catch((error: Error) => {
    throw new SourceInputError(`${file}: line 1: cannot read the header: ${error.message}`);
  });
  if (first.done || (structural && (structural as { records: number }).records === 0)) {
    parser.destroy();
    const bad = structural as { message: string } | null;
    throw new SourceInputError(bad ? `${file}: line 1: malformed CSV header (${bad.message})` : `${file} is empty: expected a header row naming the columns`);
  }
  const header = first.value;
  nextLine += 1 + countLineBreaks(header);
  const index = {} as Record<K, number | undefined>;
  const unknown: string[] = [];
  for (const key of Object.keys(columns) as K[]) {
    const column = columns[key];
    if (!column) continue;
    let at = header.indexOf(column.name);
    if (at < 0) at = header.findIndex((h) => h.trim() === column.name.trim());
    if (at < 0) unknown.push(`${column.flag} ${JSON.stringify(column.name)}`);
    index[key] = at;
  }
  if (unknown.length > 0) {
    parser.destroy();
    throw new SourceInputError(`unknown column: ${unknown.join(', ')} (the header of ${file} has ${header.map((h) => JSON.stringify(h)).join(', ')}); nothing was read`, {
      unknownColumns: unknown,
      header,
    });
  }
  const malformed = (message: string) => ({ line: nextLine, error: `malformed CSV (${message.replace(/ at line \d+/, '')}); the file is not read past this point` });
  async function* rows(): AsyncGenerator<CsvRow | { line: number; error: string }> {
    let records = 1; // the header
    try {
      for (;;) {
        let next: IteratorResult<string[]>;
        try {
          next = await iterator.next();
        } catch (error) {
          yield malformed((error as Error).message);
          return;
        }
        const skipped = structural;
        if (skipped && records >= skipped.records) {
          yield malformed(skipped.message);
          return;
        }
        if (next.done) return;
        records += 1;
        const fields = next.value;
        const line = nextLine;
        nextLine += 1 + countLineBreaks(fields);
        if (fields.length === 1 && fields[0]!.trim() === '') continue; // a blank line
        if (fields.length !== header.length) {
          // Which cell belongs to which column is anyone's guess: the row is bad as a whole.
          yield { line, fields, problem: `row has ${fields.length} field${fields.length === 1 ? '' : 's'}, the header has ${header.length}` };
        } else {
          yield { line, fields };
        }
      }
    } finally {
      parser.destroy();
    }
  }
  return { header, index, rows: rows() };
}

/** Collects bad rows: the first MAX_REPORTED_BAD_ROWS in full, the rest counted. */
class BadRows {
  readonly listed: BadRow[] = [];
  count = 0;
  add(line: number, message: string): void {
    this.count += 1;
    if (this.listed.length < MAX_REPORTED_BAD_ROWS) this.listed.push({ line, message });
  }
  fail(file: string): never {
    const more = this.count - this.listed.length;
    const lines = this.listed.map((b) => `  line ${b.line}: ${b.message}`);
    if (more > 0) lines.push(`  … and ${more} more bad rows`);
    throw new SourceInputError(`${this.count} bad row${this.count === 1 ? '' : 's'} in ${file}; nothing was imported:\n${lines.join('\n')}`, {
      file,
      badRowCount: this.count,
      badRows: this.listed,
    });
  }
}

/** A value quoted for a message, cut to its first 40 characters. */
function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/**
 * What is wrong with an id cell (`what` names it in the message), or null when it is a usable
 * source id. An empty or all-blank cell is "no value"; otherwise the shared rule of `ids.ts`
 * (1–256 characters, no control characters; kept exactly, no trimming).
 */
function idCellProblem(what: string, value: string | undefined, column: string, flag: string): string | null {
  if (value === undefined || value.trim() === '') return `no value in column "${column}" (${flag})`;
  const problem = sourceIdProblem(value);
  return problem === null ? null : `${what} ${quote(value)} in column "${column}" (${flag}) ${problem}`;
}

function cell(fields: readonly string[], at: number | undefined): string | undefined {
  return at === undefined ? undefined : fields[at];
}

// ---------------------------------------------------------------------------------------
// Interactions

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
      const user = cell(row.fields, csv.index.user);
      const item = cell(row.fields, csv.index.item);
      const time = cell(row.fields, csv.index.time);
      const problems: string[] = [];
      for (const problem of [
        idCellProblem('member id', user, options.userCol, '--user-col'),
        idCellProblem('item id', item, options.itemCol, '--item-col'),
      ]) {
        if (problem !== null) problems.push(problem);
      }
      let seconds: number | null = null;
      if (time === undefined || time.trim() === '') problems.push(`no value in column "${options.timeCol}" (--time-col)`);
      else {
        const read = readTime(time, nowMs);
        if ('problem' in read) problems.push(`time ${quote(time)} in column "${options.timeCol}" ${read.problem}`);
        else seconds = read.seconds;
      }
      if (problems.length > 0) {
        bad.add(row.line, problems.join('; '));
        continue;
      }
      if (bad.count > 0) continue; // nothing will land: just keep checking the rest
      users.push(user!);
      items.push(item!);
      times.push(seconds!);
      if (users.length >= batchSize) await flush();
    }
    if (bad.count > 0) bad.fail(options.file);
    await flush();
    await auditSourceWrite(client, options.audit, 'source.import_interactions', options.file, {
      file: options.file,
      rows,
      workouts,
      membersAdded,
      placeholderClasses,
      replaced: Boolean(options.replace),
      replacedTables,
    });
    return { rows, workouts, membersAdded, placeholderClasses };
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
