import type { LogLevel } from '../db/schema/task-log.ts';
import type { TaskLogger } from '../sdk/task.ts';
import type { SecretRedactor } from './redact.ts';

export interface BufferedLine {
  loggedAt: Date;
  level: LogLevel;
  message: string;
}

/** The log of one try: lines are buffered (redacted) and drained to PostgreSQL by the worker. */
export class TryLog {
  private lines: BufferedLine[] = [];

  constructor(private readonly redactor: SecretRedactor) {}

  write(level: LogLevel, message: string, loggedAt = new Date()): void {
    this.lines.push({ loggedAt, level, message: this.redactor.redact(message) });
  }

  /** The `ctx.log` handed to the task. */
  logger(): TaskLogger {
    const log = ((message: string) => this.write('info', String(message))) as TaskLogger;
    log.info = (message) => this.write('info', String(message));
    log.warn = (message) => this.write('warn', String(message));
    log.error = (message) => this.write('error', String(message));
    return log;
  }

  drain(): BufferedLine[] {
    const drained = this.lines;
    this.lines = [];
    return drained;
  }
}
