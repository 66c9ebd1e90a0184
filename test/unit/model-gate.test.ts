/**
 * The promotion gate: a new ranker goes to production only when its nDCG@10 strictly beats the
 * heuristics' and, when a production model is named, production's (whose metrics must exist).
 */
import { describe, expect, it } from 'vitest';
import { GATE_METRIC, gateDecision } from '../../model/gate.ts';

/** Holdout metrics keyed by candidate, with only nDCG@10 (plus a distractor metric). */
function metrics(scores: Record<string, number>): Record<string, Record<string, number>> {
  return Object.fromEntries(Object.entries(scores).map(([name, ndcg]) => [name, { [GATE_METRIC]: ndcg, 'recall@10': 0.99 }]));
}

describe('gateDecision', () => {
  it('compares nDCG@10', () => {
    expect(GATE_METRIC).toBe('ndcg@10');
  });

  it('promotes a ranker that beats the heuristics when nothing is in production', () => {
    const decision = gateDecision(metrics({ ranker: 0.3125, heuristics: 0.25 }), null);
    expect(decision.promote).toBe(true);
    expect(decision.reason).toContain('0.3125');
    expect(decision.reason).toContain('0.2500');
    expect(decision.reason).toMatch(/no model in production/);
  });

  it('looks at nDCG@10 only: a better recall does not help a worse nDCG', () => {
    const m = { ranker: { 'ndcg@10': 0.2, 'recall@10': 0.9 }, heuristics: { 'ndcg@10': 0.21, 'recall@10': 0.1 } };
    expect(gateDecision(m, null).promote).toBe(false);
  });

  it('refuses a ranker that does not beat the heuristics', () => {
    const decision = gateDecision(metrics({ ranker: 0.2, heuristics: 0.25 }), null);
    expect(decision).toEqual({ promote: false, reason: expect.stringContaining('does not beat') });
    expect(decision.reason).toContain('0.2000');
    expect(decision.reason).toContain('0.2500');
  });

  it('equal to the heuristics is not beating them', () => {
    const decision = gateDecision(metrics({ ranker: 0.25, heuristics: 0.25 }), null);
    expect(decision.promote).toBe(false);
    expect(decision.reason).toContain('0.2500');
  });

  it('refuses when the ranker beats the heuristics but not the named production model', () => {
    const worse = gateDecision(metrics({ ranker: 0.3, heuristics: 0.2, production: 0.35 }), 'daily-picks-v7');
    expect(worse.promote).toBe(false);
    expect(worse.reason).toContain('daily-picks-v7');
    expect(worse.reason).toContain('0.3000');
    expect(worse.reason).toContain('0.3500');

    const equal = gateDecision(metrics({ ranker: 0.3, heuristics: 0.2, production: 0.3 }), 'daily-picks-v7');
    expect(equal.promote).toBe(false);
  });

  it('promotes when the ranker beats both the heuristics and production, naming both figures', () => {
    const decision = gateDecision(metrics({ ranker: 0.4, heuristics: 0.2, production: 0.35 }), 'daily-picks-v7');
    expect(decision.promote).toBe(true);
    for (const figure of ['0.4000', '0.2000', '0.3500', 'daily-picks-v7']) expect(decision.reason).toContain(figure);
  });

  it('refuses when production is named but was not evaluated (its metrics are missing)', () => {
    const decision = gateDecision(metrics({ ranker: 0.4, heuristics: 0.2 }), 'daily-picks-v7');
    expect(decision.promote).toBe(false);
    expect(decision.reason).toContain('daily-picks-v7');
    expect(decision.reason).toMatch(/not evaluated/);
    // Production metrics without nDCG@10 are as good as missing.
    expect(gateDecision({ ...metrics({ ranker: 0.4, heuristics: 0.2 }), production: { 'recall@10': 0.5 } }, 'daily-picks-v7').promote).toBe(false);
  });

  it('ignores production metrics when no production model is named', () => {
    // A stale "production" entry must not block a ranker when the registry has nothing in production.
    expect(gateDecision(metrics({ ranker: 0.4, heuristics: 0.2, production: 0.9 }), null).promote).toBe(true);
  });

  it('refuses when the ranker or the heuristics have no nDCG@10', () => {
    expect(gateDecision(metrics({ heuristics: 0.2 }), null).promote).toBe(false);
    expect(gateDecision(metrics({ ranker: 0.2 }), null).promote).toBe(false);
    expect(gateDecision({}, null).reason).toContain(GATE_METRIC);
  });

  it('a NaN nDCG never promotes', () => {
    expect(gateDecision(metrics({ ranker: Number.NaN, heuristics: 0.2 }), null).promote).toBe(false);
    expect(gateDecision(metrics({ ranker: 0.4, heuristics: 0.2, production: Number.NaN }), 'v1').promote).toBe(false);
  });
});
