import path from 'node:path';
import { z } from 'zod';
import { FlywheelError } from './errors.ts';

/** DAGS_FOLDER when unset, resolved against the working directory. */
export const DEFAULT_DAGS_FOLDER = './dags';

const intFromEnv = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const environmentSchema = z.object({
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/flywheel'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  DAGS_FOLDER: z.string().min(1).default(DEFAULT_DAGS_FOLDER),
  ARTIFACTS_DIR: z.string().min(1).default('./artifacts'),
  FLYWHEEL_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('flywheel'),
  FLYWHEEL_SCHEDULER_INTERVAL_MS: intFromEnv(1000),
  FLYWHEEL_HEARTBEAT_MS: intFromEnv(5000),
  FLYWHEEL_ZOMBIE_THRESHOLD_MS: intFromEnv(60_000),
  FLYWHEEL_DAG_REFRESH_MS: intFromEnv(30_000),
  FLYWHEEL_XCOM_MAX_BYTES: intFromEnv(1024 * 1024),
  FLYWHEEL_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  FLYWHEEL_SHUTDOWN_GRACE_MS: intFromEnv(30_000),
  PORT: intFromEnv(8080),
  // Empty counts as unset, so `FLYWHEEL_SECRET_KEY: ${FLYWHEEL_SECRET_KEY:-}` in compose files works.
  FLYWHEEL_SECRET_KEY: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -base64 32`)').optional(),
  ),
  FLYWHEEL_TRUST_PROXY: z.string().min(1).optional(),
  // Ten years at most: a typo (days meant as hours, an extra digit) should not keep feedback forever.
  FLYWHEEL_FEEDBACK_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  FLYWHEEL_IMPRESSION_LOGGING: z
    .preprocess(
      (value) => (typeof value === 'string' ? value.trim().toLowerCase() || undefined : value),
      z.enum(['true', 'false', '1', '0', 'on', 'off', 'yes', 'no'], { message: 'must be true or false (or 1/0, on/off, yes/no)' }).default('true'),
    )
    .transform((value) => ['true', '1', 'on', 'yes'].includes(value)),
});

/** Everything Flywheel reads from the environment, validated once at start-up. */
export interface FlywheelConfig {
  databaseUrl: string;
  redisUrl: string;
  /** Absolute path of the folder scanned for DAG files. */
  dagsFolder: string;
  artifactsDir: string;
  /** BullMQ key prefix: separate Flywheel installs (or tests) sharing one Redis. */
  queuePrefix: string;
  /** How often the scheduler's safety-net loop runs. */
  schedulerIntervalMs: number;
  /** How often a worker heartbeats its running tries. */
  heartbeatMs: number;
  /** A running try without a heartbeat for this long is a zombie: failed or retried. */
  zombieThresholdMs: number;
  /** How often the scheduler re-reads the DAGs folder. */
  dagRefreshMs: number;
  /** Largest task output stored as XCom, in bytes of JSON. */
  xcomMaxBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** On SIGTERM, a worker waits this long for running tries before handing them back. */
  shutdownGraceMs: number;
  webPort: number;
  /** Signs web session cookies; null = a random key per process (with a warning). */
  secretKey: string | null;
  /** express's `trust proxy` for the web server (`true`, a hop count, or addresses / `loopback`); null = none. */
  trustProxy: string | null;
  /** Days of feedback (impressions, events, conversions) kept; older day partitions are dropped and older events refused. */
  feedbackRetentionDays: number;
  /** Whether the picks API logs the rows it serves as impressions. */
  impressionLogging: boolean;
}

/** Bad configuration (an environment variable): the CLI prints it and exits 2. */
export class ConfigError extends FlywheelError {
  override readonly name = 'ConfigError';
  constructor(message: string) {
    super('invalid', message);
  }
}

/** Reads and validates the configuration; throws a ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<FlywheelConfig> = {}): FlywheelConfig {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      `invalid configuration: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  }
  const e = parsed.data;
  const config: FlywheelConfig = {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    dagsFolder: path.resolve(e.DAGS_FOLDER),
    artifactsDir: path.resolve(e.ARTIFACTS_DIR),
    queuePrefix: e.FLYWHEEL_QUEUE_PREFIX,
    schedulerIntervalMs: e.FLYWHEEL_SCHEDULER_INTERVAL_MS,
    heartbeatMs: e.FLYWHEEL_HEARTBEAT_MS,
    zombieThresholdMs: e.FLYWHEEL_ZOMBIE_THRESHOLD_MS,
    dagRefreshMs: e.FLYWHEEL_DAG_REFRESH_MS,
    xcomMaxBytes: e.FLYWHEEL_XCOM_MAX_BYTES,
    logLevel: e.FLYWHEEL_LOG_LEVEL,
    shutdownGraceMs: e.FLYWHEEL_SHUTDOWN_GRACE_MS,
    webPort: e.PORT,
    secretKey: e.FLYWHEEL_SECRET_KEY ?? null,
    trustProxy: e.FLYWHEEL_TRUST_PROXY ?? null,
    feedbackRetentionDays: e.FLYWHEEL_FEEDBACK_RETENTION_DAYS,
    impressionLogging: e.FLYWHEEL_IMPRESSION_LOGGING,
    ...overrides,
  };
  if (config.zombieThresholdMs < config.heartbeatMs * 2) {
    throw new ConfigError(
      `FLYWHEEL_ZOMBIE_THRESHOLD_MS (${config.zombieThresholdMs}) must be at least twice FLYWHEEL_HEARTBEAT_MS (${config.heartbeatMs})`,
    );
  }
  return config;
}

/** A connection URL with its password replaced, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}
