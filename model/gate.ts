/** The metric the gate compares. */
export const GATE_METRIC = 'ndcg@10';

export type GateDecision = {
  promote: boolean;
  /** Why, in words an operator reads in the log and the registry. */
  reason: string;
};

/**
 * A new model goes to production only if it beats the heuristics and the model in production
 * (when there is one) on NDCG@10 of the same holdout; otherwise the pipeline keeps what it had.
 * `metrics` are keyed by candidate: `ranker` (the new model), `heuristics`, and `production`
 * when a production model was evaluated.
 */
export function gateDecision(metrics: Record<string, Record<string, number>>, production: string | null): GateDecision {
  const score = (candidate: string) => metrics[candidate]?.[GATE_METRIC];
  const ranker = score('ranker');
  const heuristics = score('heuristics');
  if (ranker === undefined || heuristics === undefined) return { promote: false, reason: `no ${GATE_METRIC} for the ranker or the heuristics` };
  const f = (x: number) => x.toFixed(4);
  if (!(ranker > heuristics)) return { promote: false, reason: `${GATE_METRIC} ${f(ranker)} does not beat the heuristics' ${f(heuristics)}` };
  if (production !== null) {
    const current = score('production');
    if (current === undefined) return { promote: false, reason: `production model ${production} was not evaluated` };
    if (!(ranker > current)) return { promote: false, reason: `${GATE_METRIC} ${f(ranker)} does not beat production ${production}'s ${f(current)}` };
    return { promote: true, reason: `${GATE_METRIC} ${f(ranker)} beats the heuristics' ${f(heuristics)} and production ${production}'s ${f(current)}` };
  }
  return { promote: true, reason: `${GATE_METRIC} ${f(ranker)} beats the heuristics' ${f(heuristics)} (no model in production)` };
}
