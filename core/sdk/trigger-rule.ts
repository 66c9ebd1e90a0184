/** Airflow's trigger rules; README.md ("Trigger rules") says when each runs and what it becomes otherwise. */
export const TRIGGER_RULES = [
  'all_success',
  'all_failed',
  'all_done',
  'one_success',
  'one_failed',
  'none_failed',
  'none_failed_min_one_success',
  'none_skipped',
  'always',
] as const;

export type TriggerRule = (typeof TRIGGER_RULES)[number];

export function isTriggerRule(value: unknown): value is TriggerRule {
  return typeof value === 'string' && (TRIGGER_RULES as readonly string[]).includes(value);
}
