/**
 * What the pipeline and the picks API need of an experiment: which are live at a moment, and
 * which variant a member is in (by hash: no table of assignments). The store (create, list,
 * stop) and the report live beside this file.
 */
import { and, gt, isNull, lte, or } from 'drizzle-orm';
import type { Database } from '../../core/db/client.ts';
import { experiments, type ExperimentRow, type ExperimentVariant } from '../../core/db/schema/experiment.ts';
import { assignVariant } from '../../model/experiments/bucketing.ts';

/** An experiment key: lower-case letters, digits, `_` and `-`, at most 63 (the `experiment` table checks the same). */
export const EXPERIMENT_KEY_FORMAT = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** What ranks a variant's rows, besides a registered model version. */
export const VARIANT_RANKERS = ['heuristics', 'model', 'model_ignore_aware'] as const;
export type VariantRanker = (typeof VARIANT_RANKERS)[number];

/** `scheduled` before its start, `running`, `ended` past its end, `stopped` by an operator. */
export type ExperimentStatus = 'scheduled' | 'running' | 'ended' | 'stopped';

export interface Experiment {
  key: string;
  variants: ExperimentVariant[];
  rows: string[];
  startAt: Date;
  endAt: Date | null;
  stoppedAt: Date | null;
}

export function experimentStatus(experiment: Pick<Experiment, 'startAt' | 'endAt' | 'stoppedAt'>, at: Date): ExperimentStatus {
  if (experiment.stoppedAt && experiment.stoppedAt <= at) return 'stopped';
  if (at < experiment.startAt) return 'scheduled';
  if (experiment.endAt && experiment.endAt <= at) return 'ended';
  return 'running';
}

/** The variant `memberId` is in: sticky for the experiment's life (same key, member and weights). */
export function variantOf(experiment: Pick<Experiment, 'key' | 'variants'>, memberId: string): ExperimentVariant {
  const index = assignVariant(experiment.key, memberId, experiment.variants.map((v) => v.weight));
  // Full coverage: every hash lands in a range; the last variant takes a rounding edge.
  return experiment.variants[index < 0 ? experiment.variants.length - 1 : index]!;
}

export function toExperiment(row: ExperimentRow): Experiment {
  return { key: row.key, variants: row.variants, rows: row.rows, startAt: row.startAt, endAt: row.endAt, stoppedAt: row.stoppedAt };
}

/** Experiments running at `at` (started, not ended, not stopped by then), oldest first. */
export async function activeExperiments(db: Database, at: Date): Promise<Experiment[]> {
  const rows = await db
    .select()
    .from(experiments)
    .where(and(lte(experiments.startAt, at), or(isNull(experiments.endAt), gt(experiments.endAt, at)), or(isNull(experiments.stoppedAt), gt(experiments.stoppedAt, at))))
    .orderBy(experiments.startAt, experiments.key);
  return rows.map(toExperiment);
}
