/**
 * Writing CSV files the way `flywheel import` reads them (RFC 4180): a field is quoted when it
 * holds a comma, a quote, a line break or leading/trailing blanks, with quotes doubled; lines end
 * with LF. Writes go through a buffered stream that waits for drain.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

/** One field, quoted when it must be. */
export function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One line (LF included). */
export function csvLine(fields: readonly (string | number)[]): string {
  return `${fields.map(csvField).join(',')}\n`;
}

/** A CSV file written line by line with back-pressure; `close` resolves once it is on disk. */
export class CsvFileWriter {
  private readonly stream: WriteStream;
  private failure: Error | null = null;
  rows = 0;

  constructor(readonly file: string, header: readonly string[]) {
    this.stream = createWriteStream(file, { encoding: 'utf8' });
    this.stream.on('error', (error) => (this.failure ??= error));
    this.stream.write(csvLine(header));
  }

  /** Throws the stream's error, if it had one (set by its `error` event, at any await). */
  private check(): void {
    if (this.failure) throw this.failure;
  }

  async write(fields: readonly (string | number)[]): Promise<void> {
    this.check();
    this.rows += 1;
    if (!this.stream.write(csvLine(fields))) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    this.check();
    this.stream.end();
    await once(this.stream, 'finish');
    this.check();
  }
}
