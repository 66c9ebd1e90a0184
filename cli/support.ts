import os from 'node:os';
import { Option } from 'commander';
import { loadConfig } from '../core/config.ts';
import { connectDatabase, type DatabaseConnection } from '../core/db/client.ts';

/** Prints `data` as JSON with `--json`, else the human form (a function when it costs something to build). */
export function print(json: boolean, data: unknown, human: string | (() => string)): void {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${typeof human === 'string' ? human : human()}\n`);
}

/** A plain-text table of `rows` (dates as ISO strings, null as empty). */
/** A value as a table cell: dates as ISO, objects as JSON, nothing as empty. */
function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? '';
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cell = cellText;
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

/** `--json` on every command that prints data. */
export const jsonOption = (): Option => new Option('--json', 'print JSON');

/** The CLI actor in the audit log: `cli:<OS user>`. */
export function cliActor(): string {
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/** Runs `work` with a small connection pool to DATABASE_URL, closing it after. */
export async function withDatabase<T>(work: (connection: DatabaseConnection) => Promise<T>): Promise<T> {
  const connection = connectDatabase(loadConfig().databaseUrl, 2);
  try {
    return await work(connection);
  } finally {
    await connection.close();
  }
}
