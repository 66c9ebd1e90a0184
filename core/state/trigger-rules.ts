import type { TaskState } from '../sdk/states.ts';
import type { TriggerRule } from '../sdk/trigger-rule.ts';

/** What a task in state `none` should do now, given its trigger rule and its upstream states. */
export type TriggerDecision = 'run' | 'wait' | 'upstream_failed' | 'skipped';

/** Airflow's trigger-rule semantics ("done" = success, failed, upstream_failed or skipped). */
export function evaluateTriggerRule(rule: TriggerRule, upstreamStates: readonly TaskState[]): TriggerDecision {
  const total = upstreamStates.length;
  if (total === 0 || rule === 'always') return 'run';
  let success = 0;
  let failed = 0;
  let skipped = 0;
  for (const state of upstreamStates) {
    if (state === 'success') success += 1;
    else if (state === 'failed' || state === 'upstream_failed') failed += 1;
    else if (state === 'skipped') skipped += 1;
  }
  const done = success + failed + skipped;
  const allDone = done === total;
  switch (rule) {
    case 'all_success':
      if (failed > 0) return 'upstream_failed';
      if (skipped > 0) return 'skipped';
      return success === total ? 'run' : 'wait';
    case 'all_failed':
      if (success > 0 || skipped > 0) return 'skipped';
      return failed === total ? 'run' : 'wait';
    case 'all_done':
      return allDone ? 'run' : 'wait';
    case 'one_success':
      if (success > 0) return 'run';
      if (!allDone) return 'wait';
      return failed > 0 ? 'upstream_failed' : 'skipped';
    case 'one_failed':
      if (failed > 0) return 'run';
      return allDone ? 'skipped' : 'wait';
    case 'none_failed':
      if (failed > 0) return 'upstream_failed';
      return allDone ? 'run' : 'wait';
    case 'none_failed_min_one_success':
      if (failed > 0) return 'upstream_failed';
      if (!allDone) return 'wait';
      return success > 0 ? 'run' : 'skipped';
    case 'none_skipped':
      if (skipped > 0) return 'skipped';
      return allDone ? 'run' : 'wait';
  }
}
