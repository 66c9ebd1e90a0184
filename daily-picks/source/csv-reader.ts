/**
 * Reading an import's CSV file: the header resolved to column indexes before any row is read,
 * data rows with the line they start on, and bad rows collected for one report.
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { parse } from 'csv-parse';
import { SourceInputError } from './errors.ts';
import { sourceIdProblem } from './ids.ts';

export interface BadRow {
  line: number;
  message: string;
}

/** Bad rows listed in a report; the rest are counted. */
export const MAX_REPORTED_BAD_ROWS = 100;

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
export async function openCsv<K extends string>(file: string, columns: Record<K, { flag: string; name: string } | undefined>) {
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
export class BadRows {
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
export function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/**
 * What is wrong with an id cell (`what` names it in the message), or null when it is a usable
 * source id. An empty or all-blank cell is "no value"; otherwise the shared rule of `ids.ts`
 * (1–256 characters, no control characters; kept exactly, no trimming).
 */
export function idCellProblem(what: string, value: string | undefined, column: string, flag: string): string | null {
  if (value === undefined || value.trim() === '') return `no value in column "${column}" (${flag})`;
  const problem = sourceIdProblem(value);
  return problem === null ? null : `${what} ${quote(value)} in column "${column}" (${flag}) ${problem}`;
}

export function cell(fields: readonly string[], at: number | undefined): string | undefined {
  return at === undefined ? undefined : fields[at];
}
