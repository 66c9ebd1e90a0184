/** The metric the gate compares. */
export const GATE_METRIC = 'ndcg@10';

export type GateDecision = {
  promote: boolean;
  /** Why, in words an operator reads in the log and the registry. */
  reason: string;
};

export interface GateInput {
  /** Members the holdout evaluated: with none, nothing is decided. */
  evaluatedMembers: number;
  /** The new version's serving plan's NDCG@10 on the holdout. */
  candidate: number;
  /** The version in production, its plan evaluated on the same holdout (its ranker, today's baselines); null when none is. */
  production: { version: string; ndcg: number } | null;
  /** A production version that cannot serve (its catalogue no longer matches the data, or it cannot be loaded): it does not hold its place. */
  unusableProduction?: { version: string; reason: string } | null;
}

const f = (x: number) => x.toFixed(4);

/**
 * A new version goes to production when its serving plan (the best candidate per segment, its
 * own ranker among them) beats the production version's plan on NDCG@10 of the same holdout, or
 * when nothing usable is in production. Never on an empty holdout: with no member evaluated,
 * every candidate scores 0 and a comparison would mean nothing.
 */
export function gateDecision(input: GateInput): GateDecision {
  if (input.evaluatedMembers === 0) {
    return { promote: false, reason: 'no member could be evaluated on the holdout: nothing to decide on, so nothing is promoted' };
  }
  const score = `${GATE_METRIC} ${f(input.candidate)} on ${input.evaluatedMembers} members`;
  if (input.unusableProduction) {
    return { promote: true, reason: `${score}; production ${input.unusableProduction.version} cannot serve (${input.unusableProduction.reason})` };
  }
  if (input.production === null) return { promote: true, reason: `${score} (no model in production)` };
  if (!(input.candidate > input.production.ndcg)) {
    return { promote: false, reason: `${score} does not beat production ${input.production.version}'s ${f(input.production.ndcg)}` };
  }
  return { promote: true, reason: `${score} beats production ${input.production.version}'s ${f(input.production.ndcg)}` };
}
