/**
 * Creating, listing and stopping experiments. Everything a user can get wrong is refused here
 * with a message that names the problem (the CLI and the REST API pass it on as it is): a bad
 * key or variant list, a variant that names nothing that can rank, rows that another live
 * experiment already tests in the same time span.
 */
import { desc, eq, inArray, sql } from 'drizzle-orm';
import type { Database, Queryable } from '../../core/db/client.ts';
import type { AuditHook } from '../../core/db/queries/audit-log.ts';
import { experiments, type ExperimentRow, type ExperimentVariant } from '../../core/db/schema/experiment.ts';
import { modelVersions } from '../../core/db/schema/model-version.ts';
import { inTransaction } from '../../core/db/transaction.ts';
import { FlywheelError } from '../../core/errors.ts';
import { NAMED_ROW_NAMES, ROW_NAMES } from '../rows/row-specs.ts';
import { EXPERIMENT_KEY_FORMAT, experimentStatus, VARIANT_RANKERS, type ExperimentStatus } from './experiment.ts';

/** The rows an experiment may rank: the three named rows and the ranked candidate list. */
export const EXPERIMENT_ROWS = ROW_NAMES;
/** The rows an experiment ranks when it names none: what a member sees as Daily Picks. */
export const DEFAULT_EXPERIMENT_ROWS = NAMED_ROW_NAMES;

const VARIANT_KEY_FORMAT = /^[A-Za-z0-9._:@-]{1,200}$/;
const DESCRIPTION_MAX = 2000;

export interface CreateExperimentInput {
  /** Lower-case letters, digits, `_` and `-`, at most 63 characters, starting with a letter or digit. */
  key: string;
  /** Two or more; the first is the baseline; integer percentages summing to 100. */
  variants: ExperimentVariant[];
  /** @defaultValue {@link DEFAULT_EXPERIMENT_ROWS} */
  rows?: string[];
  /** @defaultValue now */
  startAt?: Date;
  /** @defaultValue none: it runs until stopped */
  endAt?: Date | null;
  description?: string | null;
}

/** An experiment as the CLI and the API show it: the stored row and its status at the time asked. */
export type ExperimentInfo = ExperimentRow & { status: ExperimentStatus };

const invalid = (message: string) => new FlywheelError('invalid', message);

/**
 * `heuristics:50,model:50` → `[{ key: 'heuristics', weight: 50 }, { key: 'model', weight: 50 }]`.
 * Only the syntax is checked here; {@link createExperiment} checks what the variants name.
 */
export function parseVariants(text: string): ExperimentVariant[] {
  const parts = text.split(',').map((p) => p.trim());
  if (text.trim() === '' || parts.some((p) => p === '')) throw invalid(`variants: expected KEY:WEIGHT,KEY:WEIGHT,… (e.g. heuristics:50,model:50), got "${text}"`);
  return parts.map((part) => {
    // A model version may contain ':' itself; the weight follows the last one.
    const at = part.lastIndexOf(':');
    if (at <= 0 || at === part.length - 1) throw invalid(`variants: "${part}" is not KEY:WEIGHT (e.g. model:50)`);
    const key = part.slice(0, at).trim();
    const weightText = part.slice(at + 1).trim();
    if (!/^\d+$/.test(weightText)) throw invalid(`variants: the weight of "${key}" must be a whole percentage, not "${weightText}"`);
    return { key, weight: Number(weightText) };
  });
}

function checkVariantShape(variants: readonly ExperimentVariant[]): void {
  if (variants.length < 2) throw invalid(`variants: an experiment needs at least two variants (the first is the baseline), got ${variants.length}`);
  const seen = new Set<string>();
  for (const v of variants) {
    if (!VARIANT_KEY_FORMAT.test(v.key)) throw invalid(`variants: "${v.key}" is not a variant key (${VARIANT_RANKERS.join(', ')} or a model version)`);
    if (seen.has(v.key)) throw invalid(`variants: "${v.key}" appears twice`);
    seen.add(v.key);
    if (!Number.isInteger(v.weight) || v.weight < 1 || v.weight > 99) throw invalid(`variants: the weight of "${v.key}" must be a whole percentage from 1 to 99, not ${v.weight}`);
  }
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  if (total !== 100) throw invalid(`variants: the weights must sum to 100, not ${total} (${variants.map((v) => `${v.key}:${v.weight}`).join(',')})`);
}

function checkRows(rows: readonly string[]): void {
  if (rows.length === 0) throw invalid(`rows: name at least one of ${EXPERIMENT_ROWS.join(', ')}`);
  for (const row of rows) {
    if (!(EXPERIMENT_ROWS as readonly string[]).includes(row)) throw invalid(`rows: "${row}" is not a row an experiment can rank (${EXPERIMENT_ROWS.join(', ')})`);
  }
  const dup = rows.find((row, i) => rows.indexOf(row) !== i);
  if (dup) throw invalid(`rows: "${dup}" appears twice`);
}

/** Variants that are not rankers must be model versions whose training succeeded. */
async function checkVariantTargets(tx: Queryable, variants: readonly ExperimentVariant[]): Promise<void> {
  const versions = variants.map((v) => v.key).filter((k) => !(VARIANT_RANKERS as readonly string[]).includes(k));
  if (versions.length === 0) return;
  const found = await tx.select({ version: modelVersions.version, status: modelVersions.status }).from(modelVersions).where(inArray(modelVersions.version, versions));
  for (const version of versions) {
    const row = found.find((f) => f.version === version);
    if (!row) throw invalid(`variants: "${version}" is neither a ranker (${VARIANT_RANKERS.join(', ')}) nor a registered model version`);
    if (row.status !== 'succeeded') throw invalid(`variants: model version "${version}" cannot rank: its training ${row.status === 'running' ? 'is still running' : 'failed'}`);
  }
}

/** When an experiment stops ranking: the earlier of its end and its stop, or never (null). */
function effectiveEnd(e: Pick<ExperimentRow, 'endAt' | 'stoppedAt'>): Date | null {
  if (e.endAt && e.stoppedAt) return e.endAt < e.stoppedAt ? e.endAt : e.stoppedAt;
  return e.endAt ?? e.stoppedAt;
}

/**
 * Creates an experiment. `actor` is recorded as its creator; `audit` (if given) writes the audit
 * entry in the same transaction. Refused with `invalid` (bad input) or `conflict` (the key is
 * taken, or a row is already under another experiment in an overlapping time span).
 */
export async function createExperiment(db: Database, input: CreateExperimentInput, actor: string, options: { audit?: AuditHook; now?: Date } = {}): Promise<ExperimentInfo> {
  if (typeof input.key !== 'string' || !EXPERIMENT_KEY_FORMAT.test(input.key)) {
    throw invalid(`key: "${String(input.key)}" must be 1–63 lower-case letters, digits, "_" or "-", starting with a letter or digit`);
  }
  checkVariantShape(input.variants);
  const rows = input.rows ?? [...DEFAULT_EXPERIMENT_ROWS];
  checkRows(rows);
  const now = options.now ?? new Date();
  const startAt = input.startAt ?? now;
  const endAt = input.endAt ?? null;
  if (Number.isNaN(startAt.getTime())) throw invalid('start: not a valid date');
  if (endAt && Number.isNaN(endAt.getTime())) throw invalid('end: not a valid date');
  if (endAt && endAt <= startAt) throw invalid(`end (${endAt.toISOString()}) must be after start (${startAt.toISOString()})`);
  const description = input.description?.trim() || null;
  if (description && description.length > DESCRIPTION_MAX) throw invalid(`description: at most ${DESCRIPTION_MAX} characters`);

  return inTransaction(db, async (tx) => {
    // One creation at a time, so two that overlap cannot both pass the check below.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('experiment:create'))`);
    await checkVariantTargets(tx, input.variants);
    if ((await tx.select({ key: experiments.key }).from(experiments).where(eq(experiments.key, input.key))).length > 0) {
      throw new FlywheelError('conflict', `experiment "${input.key}" already exists`);
    }
    for (const other of await tx.select().from(experiments)) {
      const otherEnd = effectiveEnd(other);
      const overlapsInTime = (otherEnd === null || startAt < otherEnd) && (endAt === null || other.startAt < endAt);
      const shared = rows.filter((r) => other.rows.includes(r));
      if (overlapsInTime && shared.length > 0) {
        const span = `${other.startAt.toISOString()} – ${otherEnd?.toISOString() ?? 'open end'}`;
        throw new FlywheelError('conflict', `experiment "${other.key}" already ranks ${shared.join(', ')} in an overlapping time span (${span}); two experiments live at once may not share a row`);
      }
    }
    const [row] = await tx
      .insert(experiments)
      .values({ key: input.key, variants: input.variants.map((v) => ({ key: v.key, weight: v.weight })), rows, description, startAt, endAt, createdBy: actor })
      .returning();
    await options.audit?.(tx, {
      key: input.key,
      variants: input.variants.map((v) => `${v.key}:${v.weight}`).join(','),
      rows: rows.join(','),
      startAt: startAt.toISOString(),
      endAt: endAt?.toISOString() ?? null,
    });
    return { ...row!, status: experimentStatus(row!, now) };
  });
}

/** Every experiment, newest start first, with its status now (or at `at`). */
export async function listExperiments(db: Queryable, at: Date = new Date()): Promise<ExperimentInfo[]> {
  const rows = await db.select().from(experiments).orderBy(desc(experiments.startAt), experiments.key);
  return rows.map((row) => ({ ...row, status: experimentStatus(row, at) }));
}

/** One experiment with its status now (or at `at`), or null. */
export async function getExperiment(db: Queryable, key: string, at: Date = new Date()): Promise<ExperimentInfo | null> {
  const [row] = await db.select().from(experiments).where(eq(experiments.key, key));
  return row ? { ...row, status: experimentStatus(row, at) } : null;
}

/** {@link getExperiment}, or `not_found`. */
export async function requireExperiment(db: Queryable, key: string, at: Date = new Date()): Promise<ExperimentInfo> {
  const found = await getExperiment(db, key, at);
  if (!found) throw new FlywheelError('not_found', `no experiment "${key}"`);
  return found;
}

/**
 * Stops an experiment at `at`: from then on its rows are ranked as without it. An experiment
 * already stopped or ended is a `conflict`; one not started yet is stopped before it starts.
 */
export async function stopExperiment(db: Database, key: string, actor: string, at: Date = new Date(), audit?: AuditHook): Promise<ExperimentInfo> {
  return inTransaction(db, async (tx) => {
    const [row] = await tx.select().from(experiments).where(eq(experiments.key, key)).for('update');
    if (!row) throw new FlywheelError('not_found', `no experiment "${key}"`);
    const status = experimentStatus(row, at);
    if (row.stoppedAt) throw new FlywheelError('conflict', `experiment "${key}" was already stopped at ${row.stoppedAt.toISOString()}${row.stoppedBy ? ` by ${row.stoppedBy}` : ''}`);
    if (status === 'ended') throw new FlywheelError('conflict', `experiment "${key}" already ended at ${row.endAt!.toISOString()}`);
    const [updated] = await tx.update(experiments).set({ stoppedAt: at, stoppedBy: actor }).where(eq(experiments.key, key)).returning();
    await audit?.(tx, { key, stoppedAt: at.toISOString(), was: status });
    return { ...updated!, status: experimentStatus(updated!, at) };
  });
}
