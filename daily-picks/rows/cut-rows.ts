import type { Catalogue } from '../../model/data/catalogue.ts';
import type { MemberProfile } from '../../model/data/profiles.ts';
import { matchesAll, type FilterContext } from './filters.ts';
import { reasonFor, reasonWording, type ReasonOptions } from './reasons.ts';
import { rowsUnavailable, type RowSpec } from './row-specs.ts';

export interface Pick {
  classIdx: number;
  score: number;
  reason: string;
}

export interface CutRow {
  row: string;
  picks: Pick[];
}

export interface CutRowsInput {
  catalogue: Catalogue;
  /** The member's profile; an empty one for a member without history. */
  profile: MemberProfile;
  asOf: number;
  /** The member's ranked candidates, best first, and their scores. */
  candidates: ArrayLike<number>;
  scores: ArrayLike<number>;
  named: readonly RowSpec[];
  ranked: RowSpec;
  /**
   * Classes by global popularity, best first, with their popularity scores: fills a row
   * the candidates cannot fill (reason "Popular …").
   */
  popular?: { classIdx: ArrayLike<number>; scores: ArrayLike<number> };
  /**
   * The member's own score for a class outside their candidates, for the picks that top up a
   * short row (e.g. their heuristic probability), so a row's scores stay on one scale. Without
   * it those picks carry the class's popularity score.
   */
  fillScore?: (classIdx: number) => number;
  /**
   * How reasons read: the domain's words (by default from the catalogue: durations and
   * instructors → fitness classes) and the popularity window behind "Popular …" reasons (pass
   * `Popularity.windowDays`; by default "this week").
   */
  reasons?: ReasonOptions;
  /**
   * Classes a row must not show (its candidates and its top-up alike): e.g. the classes a member
   * of the ignore-aware variant keeps ignoring. @defaultValue none
   */
  exclude?: (row: string, classIdx: number) => boolean;
  /** Rows not to cut (they come from elsewhere: another variant's ranking). @defaultValue none */
  skip?: ReadonlySet<string>;
  /**
   * Classes the named rows may not take: those the member's rows from elsewhere (`skip`) show
   * already, so that no class shows in two named rows. @defaultValue none
   */
  claimed?: Iterable<number>;
}

/**
 * Cuts a member's ranked candidates into rows: each named row takes, in rank order, the
 * classes that pass all its filters and no earlier named row took; short rows are topped up
 * from popular classes that pass the same filters. `ranked` is the filtered top-N. A named row
 * no class of the catalogue can fill (see `rowsUnavailable`, e.g. `quick_workout` without
 * durations) is left out.
 */
export function cutRows(input: CutRowsInput): CutRow[] {
  const { catalogue, profile, asOf, candidates, scores } = input;
  const context: FilterContext = { catalogue, profile, asOf };
  const wording = reasonWording(catalogue, input.reasons);
  const unavailable = new Set(rowsUnavailable(catalogue, input.named).map((u) => u.row));
  const style = profile.workouts === 0 ? 'popular' : null;
  const used = new Set<number>(input.claimed ?? []);
  const exclude = input.exclude;
  const rows: CutRow[] = [];
  const fill = (spec: RowSpec, claim: boolean): CutRow => {
    const picks: Pick[] = [];
    const taken = new Set<number>();
    for (let j = 0; j < candidates.length && picks.length < spec.size; j++) {
      const c = candidates[j]!;
      if ((claim && used.has(c)) || !matchesAll(spec.where, c, context) || exclude?.(spec.row, c)) continue;
      picks.push({ classIdx: c, score: scores[j]!, reason: reasonFor(style ?? spec.reason, catalogue, profile, c, asOf, wording) });
      taken.add(c);
    }
    const popular = input.popular;
    if (popular && picks.length < spec.size) {
      // The popular classes that pass, in popularity order — or, with the member's own scores,
      // best for the member first, so the row stays in score order.
      let fill: { classIdx: number; score: number }[] = [];
      for (let j = 0; j < popular.classIdx.length; j++) {
        const c = popular.classIdx[j]!;
        if (taken.has(c) || (claim && used.has(c)) || !matchesAll(spec.where, c, context) || exclude?.(spec.row, c)) continue;
        fill.push({ classIdx: c, score: input.fillScore ? input.fillScore(c) : popular.scores[j]! });
        if (!input.fillScore && picks.length + fill.length >= spec.size) break;
      }
      if (input.fillScore) fill = fill.sort((a, b) => b.score - a.score);
      for (const { classIdx: c, score } of fill.slice(0, spec.size - picks.length)) {
        picks.push({ classIdx: c, score, reason: reasonFor('popular', catalogue, profile, c, asOf, wording) });
        taken.add(c);
      }
    }
    if (claim) for (const c of taken) used.add(c);
    return { row: spec.row, picks };
  };
  const skip = input.skip;
  for (const spec of input.named) if (!unavailable.has(spec.row) && !skip?.has(spec.row)) rows.push(fill(spec, true));
  if (!skip?.has(input.ranked.row)) rows.push(fill(input.ranked, false));
  return rows.filter((row) => row.picks.length > 0);
}
