/**
 * The ignore discount of the `model_ignore_aware` variant, as pure functions: a class shown to a
 * member on `n` days (within the window) without a conversion scores `score × gamma^n`, is left
 * out while it rests (the `restDays` after it was last shown: a member is not shown again the
 * next day what they just passed over), and is left out once `n` reaches the cooldown
 * (`something_new` sooner). The rows step applies it to a
 * member's ranked candidates before cutting them into rows; what `n` is comes from
 * daily-picks/feedback/ignored.ts.
 */
import { DAY_MS } from '../../model/data/time.ts';
import type { IgnoreAwareOptions } from '../options.ts';

/** The row with the stricter cooldown: discoveries a member ignored are not offered again soon. */
export const SOMETHING_NEW = 'something_new';

/** `score × gamma^n`: the score of a class ignored on `n` days. */
export function discountedScore(score: number, ignoredDays: number, gamma: number): number {
  return ignoredDays > 0 ? score * gamma ** ignoredDays : score;
}

/** Whether an ignored class last shown at `lastShownAt` still rests at `asOf` (within `restDays` of it). */
export function isResting(lastShownAt: number, asOf: number, restDays: number): boolean {
  return restDays > 0 && lastShownAt >= asOf - restDays * DAY_MS;
}

/**
 * Whether a class ignored on `n` days is left out of `row`: while it rests, from `cooldownAfter`
 * on in every row, from `somethingNewCooldownAfter` on in `something_new`.
 */
export function inCooldown(row: string, ignoredDays: number, options: Pick<IgnoreAwareOptions, 'cooldownAfter' | 'somethingNewCooldownAfter'>, resting = false): boolean {
  if (ignoredDays <= 0) return false;
  if (resting) return true;
  if (ignoredDays >= options.cooldownAfter) return true;
  return row === SOMETHING_NEW && ignoredDays >= options.somethingNewCooldownAfter;
}

/** A member's ranked candidates, best first, with their scores. */
export interface RankedCandidates {
  candidates: ArrayLike<number>;
  scores: ArrayLike<number>;
}

/**
 * A member's candidates with the discount applied: classes resting or in cooldown for every row
 * left out, the others re-ordered by their discounted score (a stable sort: ties keep the
 * ranking's order). `ignoredDays(c)` is the number of days class `c` was ignored (0 when it was
 * not), `resting(c)` whether it rests. The input is returned as it is when no candidate was ignored.
 */
export function discountIgnored(ranked: RankedCandidates, ignoredDays: (classIdx: number) => number, options: IgnoreAwareOptions, resting: (classIdx: number) => boolean = () => false): RankedCandidates {
  const { candidates, scores } = ranked;
  let any = false;
  for (let j = 0; j < candidates.length && !any; j++) any = ignoredDays(candidates[j]!) > 0;
  if (!any) return ranked;
  const kept: { c: number; score: number; j: number }[] = [];
  for (let j = 0; j < candidates.length; j++) {
    const c = candidates[j]!;
    const n = ignoredDays(c);
    if (n > 0 && (n >= options.cooldownAfter || resting(c))) continue;
    kept.push({ c, score: discountedScore(scores[j]!, n, options.gamma), j });
  }
  kept.sort((a, b) => b.score - a.score || a.j - b.j);
  return { candidates: Uint32Array.from(kept, (k) => k.c), scores: Float64Array.from(kept, (k) => k.score) };
}
