import { pino, type Logger } from 'pino';

export type { Logger };

/** The process logger: JSON lines on stderr; connection strings and secrets are redacted. */
export function createLogger(level: string, name: string): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: ['databaseUrl', 'redisUrl', 'password', '*.password', 'token', '*.token', 'authorization'], censor: '***' },
    },
    pino.destination(2),
  );
}
