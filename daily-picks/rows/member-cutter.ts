/**
 * Cuts one member's ranked candidates into rows with what the rows step knows of the run (the
 * catalogue, the history, popular classes), however many rankings the member's rows come from
 * (the default one, an experiment variant's).
 */
import type { HeuristicScorer } from '../../model/baselines/heuristics.ts';
import type { Catalogue } from '../../model/data/catalogue.ts';
import type { History } from '../../model/data/history.ts';
import { profileFromWorkouts, profileOf, type MemberProfile } from '../../model/data/profiles.ts';
import { cutRows, type CutRow } from './cut-rows.ts';
import type { ReasonOptions } from './reasons.ts';
import type { RowSpec } from './row-specs.ts';

export interface RowCutterInput {
  catalogue: Catalogue;
  history: History;
  asOf: number;
  specs: { named: RowSpec[]; ranked: RowSpec };
  /** Popular classes, best first, with their scores: top up short rows. */
  popular: { classIdx: ArrayLike<number>; scores: ArrayLike<number> };
  /** Scores a member's top-up picks (their heuristic probability). */
  scorer: HeuristicScorer;
  reasons: ReasonOptions;
}

/** What else a cut may take (see CutRowsInput): classes left out, rows not cut, classes claimed, top-up scores adjusted. */
export interface CutExtras {
  exclude?: (row: string, classIdx: number) => boolean;
  skip?: ReadonlySet<string>;
  claimed?: Iterable<number>;
  /** The score a top-up pick gets, from the member's own (e.g. the ignore discount). */
  adjustFill?: (classIdx: number, score: number) => number;
}

export interface MemberCut {
  cut(candidates: ArrayLike<number>, scores: ArrayLike<number>, extras?: CutExtras): CutRow[];
}

export class RowCutter {
  private readonly excluded: Uint8Array;
  private readonly emptyProfile: MemberProfile;

  constructor(private readonly input: RowCutterInput) {
    this.excluded = new Uint8Array(input.catalogue.size);
    this.emptyProfile = profileFromWorkouts(input.catalogue, [], Number.NaN);
  }

  /**
   * Member `m`'s cuts; make them all before asking for the next member's. `popularity`: cut as for a member without history (popular reasons and
   * scores), as the popularity candidate's rows always were.
   */
  forMember(m: number, popularity: boolean): MemberCut {
    const { catalogue, history, asOf, specs, popular, scorer, reasons } = this.input;
    const profile = popularity ? this.emptyProfile : profileOf(catalogue, history, m);
    // A pick that tops up a short row carries the member's heuristic probability for the class
    // (computed only when a row needs one, once per member): the same scale as the heuristics' own picks.
    let memberScores: Float64Array | null = null;
    const ownScore = (c: number) => {
      if (!memberScores) {
        for (const t of profile.taken) this.excluded[t] = 1;
        // The scorer's buffer, not a copy (a catalogue's worth per member): valid until the next
        // score() call, and a member's cuts are all made before the next member's.
        memberScores = scorer.score(popularity ? null : profile, this.excluded);
        for (const t of profile.taken) this.excluded[t] = 0;
      }
      return memberScores[c]!;
    };
    return {
      cut: (candidates, scores, extras = {}) => {
        const adjust = extras.adjustFill;
        const fillScore = adjust ? (c: number) => adjust(c, ownScore(c)) : ownScore;
        return cutRows({ catalogue, profile, asOf, candidates, scores, named: specs.named, ranked: specs.ranked, popular, fillScore, reasons, exclude: extras.exclude, skip: extras.skip, claimed: extras.claimed });
      },
    };
  }
}
