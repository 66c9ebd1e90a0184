/**
 * The promotion gate: a new version goes to production when its serving plan's nDCG@10 strictly
 * beats the production version's plan on the same holdout, or when nothing usable is in
 * production; never on a holdout that evaluated nobody.
 */
import { describe, expect, it } from 'vitest';
import { GATE_METRIC, gateDecision } from '../../model/gate.ts';

describe('gateDecision', () => {
  it('compares nDCG@10', () => {
    expect(GATE_METRIC).toBe('ndcg@10');
  });

  it('promotes when nothing is in production', () => {
    const decision = gateDecision({ evaluatedMembers: 120, candidate: 0.3125, production: null });
    expect(decision.promote).toBe(true);
    expect(decision.reason).toContain('0.3125');
    expect(decision.reason).toContain('120 members');
    expect(decision.reason).toMatch(/no model in production/);
  });

  it('refuses to decide on an empty holdout, whatever the scores', () => {
    for (const production of [null, { version: 'ranker-2026-01-01-001', ndcg: 0 }]) {
      const decision = gateDecision({ evaluatedMembers: 0, candidate: 0, production });
      expect(decision.promote).toBe(false);
      expect(decision.reason).toMatch(/no member could be evaluated/);
    }
  });

  it('promotes a plan that beats production on the same holdout', () => {
    const decision = gateDecision({ evaluatedMembers: 50, candidate: 0.21, production: { version: 'ranker-2026-01-01-001', ndcg: 0.2 } });
    expect(decision.promote).toBe(true);
    expect(decision.reason).toContain('beats production ranker-2026-01-01-001');
    expect(decision.reason).toContain('0.2000');
  });

  it('equal to production is not beating it; worse is kept out', () => {
    for (const candidate of [0.2, 0.19]) {
      const decision = gateDecision({ evaluatedMembers: 50, candidate, production: { version: 'ranker-2026-01-01-001', ndcg: 0.2 } });
      expect(decision).toEqual({ promote: false, reason: expect.stringContaining('does not beat production ranker-2026-01-01-001') });
    }
  });

  it('a production version that cannot serve does not hold its place', () => {
    const decision = gateDecision({
      evaluatedMembers: 50,
      candidate: 0.01,
      production: null,
      unusableProduction: { version: 'ranker-2026-01-01-001', reason: 'its catalogue no longer matches the data' },
    });
    expect(decision.promote).toBe(true);
    expect(decision.reason).toContain('ranker-2026-01-01-001 cannot serve (its catalogue no longer matches the data)');
  });
});
