/**
 * Truth tables for evaluateTriggerRule: Airflow's trigger-rule meanings as the README's "Trigger rules" table states
 * them ("done" = success, failed, upstream_failed or skipped). Every other state (none,
 * scheduled, queued, running, up_for_retry) is unfinished.
 */
import { describe, expect, it } from 'vitest';
import { evaluateTriggerRule, type TriggerDecision } from '../../core/state/trigger-rules.ts';
import { TASK_STATES, type TaskState } from '../../core/sdk/states.ts';
import { TRIGGER_RULES, type TriggerRule } from '../../core/sdk/trigger-rule.ts';

type Row = [upstream: TaskState[], expected: TriggerDecision];

const S: TaskState = 'success';
const F: TaskState = 'failed';
const UF: TaskState = 'upstream_failed';
const K: TaskState = 'skipped';
const R: TaskState = 'running';
const Q: TaskState = 'queued';
const N: TaskState = 'none';
const SC: TaskState = 'scheduled';
const RT: TaskState = 'up_for_retry';

const UNFINISHED: TaskState[] = [N, SC, Q, R, RT];

const TABLES: Record<TriggerRule, Row[]> = {
  all_success: [
    [[S], 'run'],
    [[S, S, S], 'run'],
    [[F], 'upstream_failed'],
    [[UF], 'upstream_failed'],
    [[K], 'skipped'],
    [[S, F], 'upstream_failed'],
    [[S, UF], 'upstream_failed'],
    [[S, K], 'skipped'],
    // a failure outranks a skip
    [[K, F], 'upstream_failed'],
    [[K, UF, S], 'upstream_failed'],
    // decided at once, without waiting for the rest
    [[F, R], 'upstream_failed'],
    [[UF, N], 'upstream_failed'],
    [[K, Q], 'skipped'],
    [[K, RT], 'skipped'],
    // waiting on unfinished upstreams
    [[S, R], 'wait'],
    [[S, Q], 'wait'],
    [[S, SC], 'wait'],
    [[S, S, RT], 'wait'],
    [[N], 'wait'],
    [[RT], 'wait'],
    [[R, Q, N], 'wait'],
  ],
  all_failed: [
    [[F], 'run'],
    [[UF], 'run'],
    [[F, UF], 'run'],
    [[F, F, F], 'run'],
    [[S], 'skipped'],
    [[K], 'skipped'],
    [[F, S], 'skipped'],
    [[F, K], 'skipped'],
    [[UF, K, F], 'skipped'],
    // a success or skip decides at once
    [[S, R], 'skipped'],
    [[K, N], 'skipped'],
    [[F, R], 'wait'],
    [[F, RT], 'wait'],
    [[UF, Q], 'wait'],
    [[N], 'wait'],
    [[RT], 'wait'],
  ],
  all_done: [
    [[S], 'run'],
    [[F], 'run'],
    [[UF], 'run'],
    [[K], 'run'],
    [[S, F, UF, K], 'run'],
    [[F, F], 'run'],
    [[S, R], 'wait'],
    [[F, Q], 'wait'],
    [[K, SC], 'wait'],
    [[S, F, RT], 'wait'],
    [[RT], 'wait'],
    [[N], 'wait'],
    [[N, N, N], 'wait'],
  ],
  one_success: [
    [[S], 'run'],
    [[S, F], 'run'],
    [[S, K], 'run'],
    // need not wait for the rest
    [[S, R], 'run'],
    [[F, N, S], 'run'],
    [[RT, S], 'run'],
    [[F], 'upstream_failed'],
    [[UF], 'upstream_failed'],
    [[F, K], 'upstream_failed'],
    [[UF, K, K], 'upstream_failed'],
    [[F, UF], 'upstream_failed'],
    [[K], 'skipped'],
    [[K, K], 'skipped'],
    [[F, R], 'wait'],
    [[K, RT], 'wait'],
    [[UF, Q], 'wait'],
    [[N], 'wait'],
    [[RT], 'wait'],
  ],
  one_failed: [
    [[F], 'run'],
    [[UF], 'run'],
    [[F, S], 'run'],
    [[K, UF], 'run'],
    // need not wait for the rest
    [[F, R], 'run'],
    [[UF, N], 'run'],
    [[S], 'skipped'],
    [[K], 'skipped'],
    [[S, K], 'skipped'],
    [[S, S, S], 'skipped'],
    [[S, R], 'wait'],
    // up_for_retry is not failed: the retry may still succeed
    [[RT], 'wait'],
    [[S, RT], 'wait'],
    [[Q], 'wait'],
    [[N], 'wait'],
  ],
  none_failed: [
    [[S], 'run'],
    [[K], 'run'],
    [[S, K], 'run'],
    [[K, K], 'run'],
    [[S, S], 'run'],
    [[F], 'upstream_failed'],
    [[UF], 'upstream_failed'],
    [[S, F], 'upstream_failed'],
    [[K, UF], 'upstream_failed'],
    [[F, R], 'upstream_failed'],
    [[S, R], 'wait'],
    [[K, Q], 'wait'],
    [[RT], 'wait'],
    [[N], 'wait'],
  ],
  none_failed_min_one_success: [
    [[S], 'run'],
    [[S, K], 'run'],
    [[K, K, S], 'run'],
    [[K], 'skipped'],
    [[K, K], 'skipped'],
    [[F], 'upstream_failed'],
    [[UF], 'upstream_failed'],
    [[S, F], 'upstream_failed'],
    [[K, F], 'upstream_failed'],
    [[K, UF], 'upstream_failed'],
    [[F, R], 'upstream_failed'],
    [[S, R], 'wait'],
    [[K, R], 'wait'],
    [[K, RT], 'wait'],
    [[RT], 'wait'],
    [[N], 'wait'],
  ],
  none_skipped: [
    [[S], 'run'],
    [[F], 'run'],
    [[UF], 'run'],
    [[S, F, UF], 'run'],
    [[K], 'skipped'],
    [[S, K], 'skipped'],
    [[F, K], 'skipped'],
    [[K, R], 'skipped'],
    [[S, R], 'wait'],
    [[F, Q], 'wait'],
    [[N], 'wait'],
    [[RT], 'wait'],
  ],
  always: [
    [[S], 'run'],
    [[F], 'run'],
    [[UF], 'run'],
    [[K], 'run'],
    [[N], 'run'],
    [[R], 'run'],
    [[Q], 'run'],
    [[RT], 'run'],
    [[UF, RT, N, K], 'run'],
  ],
};

describe('evaluateTriggerRule', () => {
  it('covers every trigger rule', () => {
    expect(Object.keys(TABLES).sort()).toEqual([...TRIGGER_RULES].sort());
  });

  it.each(TRIGGER_RULES.map((rule) => [rule]))('%s with no upstream runs at once', (rule) => {
    expect(evaluateTriggerRule(rule, [])).toBe('run');
  });

  for (const rule of TRIGGER_RULES) {
    describe(rule, () => {
      it.each(TABLES[rule])(`${rule} [%j] → %s`, (upstream, expected) => {
        expect(evaluateTriggerRule(rule, upstream)).toBe(expected);
      });
    });
  }

  describe('every unfinished state counts as not done', () => {
    const rulesThatWait = TRIGGER_RULES.filter((rule) => rule !== 'always');
    it.each(rulesThatWait.flatMap((rule) => UNFINISHED.map((state) => [rule, state] as const)))('%s waits on a single %s upstream', (rule, state) => {
      expect(evaluateTriggerRule(rule, [state])).toBe('wait');
    });
  });

  describe('the decision does not depend on upstream order', () => {
    const combos: TaskState[][] = [
      [S, F, R],
      [K, S, Q],
      [UF, K, N],
      [F, RT, S],
      [S, K, UF, R],
    ];
    const permutations = <T>(items: T[]): T[][] =>
      items.length <= 1 ? [items] : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
    it.each(TRIGGER_RULES.flatMap((rule) => combos.map((combo) => [rule, combo] as const)))('%s over permutations of %j', (rule, combo) => {
      const decisions = new Set(permutations(combo).map((p) => evaluateTriggerRule(rule, p)));
      expect(decisions.size).toBe(1);
    });
  });

  /**
   * An independent reading of the README's trigger-rule table, written as predicates over the upstream
   * states, checked against the implementation for every multiset of 1–3 upstream states.
   */
  describe('agrees with the README trigger-rule table for every combination of up to 3 upstreams', () => {
    const isDone = (s: TaskState) => s === 'success' || s === 'failed' || s === 'upstream_failed' || s === 'skipped';
    const isFailed = (s: TaskState) => s === 'failed' || s === 'upstream_failed';
    const reference = (rule: TriggerRule, up: TaskState[]): TriggerDecision => {
      if (up.length === 0) return 'run';
      const allDone = up.every(isDone);
      const anySuccess = up.some((s) => s === 'success');
      const anyFailed = up.some(isFailed);
      const anySkipped = up.some((s) => s === 'skipped');
      switch (rule) {
        case 'always':
          return 'run';
        case 'all_success':
          if (up.every((s) => s === 'success')) return 'run';
          return anyFailed ? 'upstream_failed' : anySkipped ? 'skipped' : 'wait';
        case 'all_failed':
          if (up.every(isFailed)) return 'run';
          return anySuccess || anySkipped ? 'skipped' : 'wait';
        case 'all_done':
          return allDone ? 'run' : 'wait';
        case 'one_success':
          if (anySuccess) return 'run';
          if (!allDone) return 'wait';
          return anyFailed ? 'upstream_failed' : 'skipped';
        case 'one_failed':
          if (anyFailed) return 'run';
          return allDone ? 'skipped' : 'wait';
        case 'none_failed':
          if (anyFailed) return 'upstream_failed';
          return allDone ? 'run' : 'wait';
        case 'none_failed_min_one_success':
          if (anyFailed) return 'upstream_failed';
          if (!allDone) return 'wait';
          return anySuccess ? 'run' : 'skipped';
        case 'none_skipped':
          if (anySkipped) return 'skipped';
          return allDone ? 'run' : 'wait';
      }
    };
    const multisets: TaskState[][] = [];
    const build = (start: number, prefix: TaskState[]) => {
      if (prefix.length > 0) multisets.push(prefix);
      if (prefix.length === 3) return;
      for (let i = start; i < TASK_STATES.length; i += 1) build(i, [...prefix, TASK_STATES[i]!]);
    };
    build(0, []);

    it('enumerates all 9 + 45 + 165 multisets', () => {
      expect(multisets).toHaveLength(9 + 45 + 165);
    });

    it.each(TRIGGER_RULES.map((rule) => [rule]))('%s', (rule) => {
      const mismatches = multisets
        .map((up) => ({ up, expected: reference(rule, up), actual: evaluateTriggerRule(rule, up) }))
        .filter(({ expected, actual }) => expected !== actual);
      expect(mismatches).toEqual([]);
    });
  });
});
