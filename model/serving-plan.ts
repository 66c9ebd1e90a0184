/**
 * Which candidate serves which members, decided by measurement: the holdout's per-member NDCG@10
 * of every candidate, grouped by segment, picks the best candidate per segment. Inactivity alone
 * is no reason to fall back; having no history still is (nothing to personalise from).
 */
import { DAY_MS } from './data/time.ts';

/** Members by what their history looks like at the clock. */
export const SEGMENTS = ['no_history', 'short_history', 'long_inactive', 'active'] as const;
export type Segment = (typeof SEGMENTS)[number];

/** Candidates that can serve a member's rows; `baseline` is ItemKNN. */
export const SERVING_CANDIDATES = ['ranker', 'ease', 'baseline', 'heuristics', 'popularity'] as const;
export type ServingCandidate = (typeof SERVING_CANDIDATES)[number];

export type SegmentRules = {
  /** Fewer interactions than this is a short history. @defaultValue 5 */
  shortHistory: number;
  /** No interaction for this many days before the clock is long inactive. @defaultValue 60 */
  inactiveDays: number;
};

export const DEFAULT_SEGMENT_RULES: SegmentRules = { shortHistory: 5, inactiveDays: 60 };

/** The segment of a member with `interactions` interactions, the last at `lastActive` (NaN without), as of `clock`. */
export function segmentOf(interactions: number, lastActive: number, clock: number, rules: SegmentRules = DEFAULT_SEGMENT_RULES): Segment {
  if (interactions === 0) return 'no_history';
  if (interactions < rules.shortHistory) return 'short_history';
  if (!(lastActive >= clock - rules.inactiveDays * DAY_MS)) return 'long_inactive';
  return 'active';
}

/** `members` evaluated in the segment, and each candidate's mean NDCG@10 there. */
export type SegmentMetrics = Record<string, number>;

/** What a version serves, stored with it in the registry (`model_version.serving`) and read by the rank shards. */
export type ServingPlan = {
  segments: Record<Segment, ServingCandidate>;
  rules: SegmentRules;
  /** Why each segment gets its candidate, in words an operator reads. */
  reasons: Record<Segment, string>;
  /** Holdout NDCG@10 of the plan (each evaluated member scored by their segment's candidate). */
  ndcg: number;
  /** Evaluated members and each candidate's mean NDCG@10 per segment. */
  segmentMetrics: Record<Segment, SegmentMetrics>;
};

export interface PlanOptions {
  /** Candidates that may serve (evaluated under these names). */
  candidates: readonly ServingCandidate[];
  rules?: SegmentRules;
  /** A segment with fewer evaluated members takes the overall best candidate: too few to judge by. @defaultValue 50 */
  minSegmentMembers?: number;
}

function mean(values: Float64Array, members: readonly number[]): number {
  if (members.length === 0) return 0;
  let total = 0;
  for (const i of members) total += values[i]!;
  return total / members.length;
}

const f = (x: number) => x.toFixed(4);

/**
 * The best candidate per segment by mean NDCG@10 over that segment's evaluated members
 * (`perMember`: candidate → NDCG@10 per evaluated member, `memberSegments` in the same order).
 * Ties go to the earlier candidate in `options.candidates`.
 */
export function decideServingPlan(perMember: ReadonlyMap<string, Float64Array>, memberSegments: readonly Segment[], options: PlanOptions): ServingPlan {
  const rules = options.rules ?? DEFAULT_SEGMENT_RULES;
  const minMembers = options.minSegmentMembers ?? 50;
  const candidates = options.candidates.filter((c) => perMember.has(c));
  if (candidates.length === 0) throw new Error('decideServingPlan: no evaluated candidate');
  const all = memberSegments.map((_, i) => i);
  const best = (members: readonly number[]) => {
    let winner = candidates[0]!;
    let top = Number.NEGATIVE_INFINITY;
    for (const c of candidates) {
      const score = mean(perMember.get(c)!, members);
      if (score > top) [winner, top] = [c, score];
    }
    return { winner, top };
  };
  const overall = best(all);
  const segments = {} as Record<Segment, ServingCandidate>;
  const reasons = {} as Record<Segment, string>;
  const segmentMetrics = {} as Record<Segment, SegmentMetrics>;
  for (const segment of SEGMENTS) {
    const members = all.filter((i) => memberSegments[i] === segment);
    const metrics: SegmentMetrics = { members: members.length };
    if (members.length > 0) for (const c of candidates) metrics[c] = mean(perMember.get(c)!, members);
    segmentMetrics[segment] = metrics;
    if (segment === 'no_history') {
      segments[segment] = 'popularity';
      reasons[segment] = 'no history to personalise from: popularity';
      continue;
    }
    if (members.length < minMembers) {
      segments[segment] = overall.winner;
      reasons[segment] = `${members.length} evaluated members (fewer than ${minMembers}): the best overall, ${overall.winner} (${f(overall.top)})`;
      continue;
    }
    const { winner, top } = best(members);
    const others = candidates.filter((c) => c !== winner).map((c) => `${c} ${f(metrics[c]!)}`);
    segments[segment] = winner;
    reasons[segment] = `${winner} ${f(top)} on ${members.length} members beats ${others.join(', ')}`;
  }
  return { segments, rules, reasons, ndcg: planNdcg(segments, perMember, memberSegments), segmentMetrics };
}

/**
 * A plan's NDCG@10 on the holdout: each member scored by the candidate their segment gets.
 * `rename` maps a plan's candidate to the name it was evaluated under (production's `ranker`
 * is evaluated as `production`).
 */
export function planNdcg(
  segments: Record<Segment, string>,
  perMember: ReadonlyMap<string, Float64Array>,
  memberSegments: readonly Segment[],
  rename: (candidate: string) => string = (c) => c,
): number {
  if (memberSegments.length === 0) return 0;
  let total = 0;
  for (let i = 0; i < memberSegments.length; i++) {
    const scores = perMember.get(rename(segments[memberSegments[i]!]));
    if (scores === undefined) return Number.NaN;
    total += scores[i]!;
  }
  return total / memberSegments.length;
}

/** Every segment served by one candidate (a version trained before plans existed served its ranker). */
export function uniformPlanSegments(candidate: ServingCandidate): Record<Segment, ServingCandidate> {
  return { no_history: 'popularity', short_history: candidate, long_inactive: candidate, active: candidate };
}

/** A stored plan read back (registry JSON), or null when it is not one. */
export function asServingPlan(value: unknown): ServingPlan | null {
  if (typeof value !== 'object' || value === null) return null;
  const segments = (value as { segments?: unknown }).segments;
  if (typeof segments !== 'object' || segments === null) return null;
  for (const segment of SEGMENTS) {
    const candidate = (segments as Record<string, unknown>)[segment];
    if (typeof candidate !== 'string' || !(SERVING_CANDIDATES as readonly string[]).includes(candidate)) return null;
  }
  return value as ServingPlan;
}
