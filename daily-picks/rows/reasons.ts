import type { Catalogue } from '../../model/data/catalogue.ts';
import type { MemberProfile } from '../../model/data/profiles.ts';
import { DAY_MS } from '../../model/data/time.ts';

function title(word: string): string {
  return word.length === 0 ? word : `${word[0]!.toUpperCase()}${word.slice(1)}`;
}

/** Why a class is in a member's row, in words a member would read. */
export type ReasonStyle = 'usual' | 'quick' | 'new' | 'ranked' | 'popular';

/**
 * How reasons read for a catalogue. `fitness`: classes members take, with instructors ("Because
 * you take Yoga", "You often take classes with Ana"). `neutral`: any items — films, episodes,
 * courses ("Because you like Comedy", "More from Ana, a favourite of yours").
 */
export type ReasonDomain = 'fitness' | 'neutral';

export interface ReasonOptions {
  /** @defaultValue `fitness` when the catalogue has durations and instructors, else `neutral` */
  domain?: ReasonDomain;
  /**
   * Days the popularity behind "Popular … in X" spans (`Popularity.windowDays`): up to 14 reads
   * "Popular this week in X", up to 45 "Popular this month in X", longer "Popular in X" (old or
   * sparse data, where the window was stretched). @defaultValue 14
   */
  popularWindowDays?: number;
}

/** The wording `reasonFor` uses, fixed once per catalogue (see `reasonWording`). */
export interface ReasonWording {
  domain: ReasonDomain;
  /** "this week ", "this month " or "" (with its trailing space). */
  popularPeriod: string;
}

/** The wording of reasons for a catalogue. */
export function reasonWording(catalogue: Catalogue, options: ReasonOptions = {}): ReasonWording {
  const domain = options.domain ?? (catalogue.hasDurations && catalogue.hasInstructors ? 'fitness' : 'neutral');
  const days = options.popularWindowDays ?? 14;
  const popularPeriod = days <= 14 ? 'this week ' : days <= 45 ? 'this month ' : '';
  return { domain, popularPeriod };
}

/**
 * The one category a reason names for class `c`: of its categories, the one the member took
 * most (`among` = 'usual' limits it to their usual ones, 'new' to the others); the class's
 * first category when the member took none of them; null when the class has none.
 */
export function reasonCategory(catalogue: Catalogue, profile: MemberProfile | null, c: number, among: 'any' | 'usual' | 'new' = 'any'): number | null {
  const categories = catalogue.categoriesOf(c);
  if (categories.length === 0) return null;
  let best = -1;
  let bestWeight = Number.NEGATIVE_INFINITY;
  for (const d of categories) {
    if (profile !== null && among !== 'any' && profile.usualDisciplines.has(d) !== (among === 'usual')) continue;
    const weight = profile?.disciplineWeights.get(d) ?? 0;
    if (weight > bestWeight) {
      best = d;
      bestWeight = weight;
    }
  }
  return best >= 0 ? best : categories[0]!;
}

/**
 * The reason class `c` is in a member's row. `wording` (from `reasonWording`, computed once per
 * catalogue) sets the domain's words and how recent "Popular …" is; without it, it is derived
 * from the catalogue. A class with several categories is named by one: the one the member took
 * most (see `reasonCategory`).
 */
export function reasonFor(style: ReasonStyle, catalogue: Catalogue, profile: MemberProfile | null, c: number, asOf: number, wording?: ReasonWording): string {
  const { domain, popularPeriod } = wording ?? reasonWording(catalogue);
  const fitness = domain === 'fitness';
  const minutes = catalogue.durationMin[c]!;
  const k = catalogue.durationIdx[c]!;
  const i = catalogue.instructor[c]!;
  const instructorName = i >= 0 ? catalogue.instructorName(c) : null;
  const withInstructor = instructorName ? (fitness ? ` with ${instructorName}` : ` by ${instructorName}`) : '';
  const aired = catalogue.airedAt[c]!;
  // An unknown air date (NaN) is never "new this week".
  const freshThisWeek = !Number.isNaN(aired) && asOf - aired >= 0 && asOf - aired < 7 * DAY_MS;
  const name = (d: number | null) => (d === null ? null : title(catalogue.disciplines[d]!));
  if (style === 'popular' || profile === null || profile.workouts === 0) {
    const discipline = name(reasonCategory(catalogue, null, c));
    if (freshThisWeek) return discipline ? `New this week: ${discipline}${withInstructor}` : `New this week${withInstructor}`;
    if (discipline) return `Popular ${popularPeriod}in ${discipline}`;
    return popularPeriod ? `Popular ${popularPeriod.trim()}` : 'Popular overall';
  }
  const categories = catalogue.categoriesOf(c);
  let usualDiscipline = false;
  for (const d of categories) if (profile.usualDisciplines.has(d)) usualDiscipline = true;
  if (style === 'new' || (style === 'ranked' && categories.length > 0 && !usualDiscipline)) {
    const discipline = name(reasonCategory(catalogue, profile, c, 'new'));
    return discipline ? `New to you: ${discipline}${withInstructor}` : `New to you${withInstructor}`;
  }
  const d = reasonCategory(catalogue, profile, c, usualDiscipline ? 'usual' : 'any');
  const discipline = name(d);
  const usualDuration = k >= 0 && k === profile.topDuration;
  const favouriteInstructor = i >= 0 && i === profile.topInstructor;
  if (style === 'quick') {
    const what = [minutes >= 0 ? `${minutes}-min` : null, discipline].filter((w): w is string => w !== null).join(' ');
    if (!fitness) return what ? `Quick pick: ${what}` : 'Quick pick';
    const quick = what ? `A quick ${what} class` : 'A quick class';
    return favouriteInstructor ? `${quick} with ${instructorName}, your most-taken instructor` : quick;
  }
  const topCategory = d !== null && d === profile.topDiscipline;
  if (usualDuration && topCategory && minutes >= 0) return fitness ? `You often take ${minutes}-min ${discipline}` : `You often pick ${minutes}-min ${discipline}`;
  if (favouriteInstructor) return fitness ? `You often take classes with ${instructorName}` : `More from ${instructorName}, a favourite of yours`;
  if (i >= 0 && !profile.takenInstructors.has(i) && usualDiscipline) {
    return fitness ? `${discipline}, with an instructor new to you: ${instructorName}` : `${discipline} by ${instructorName}, new to you`;
  }
  if (freshThisWeek) {
    if (usualDiscipline) return `New this week in ${discipline}, one of your usual ${fitness ? 'disciplines' : 'categories'}`;
    return discipline ? `New this week: ${discipline}${withInstructor}` : `New this week${withInstructor}`;
  }
  if (!discipline) return 'Picked for you';
  return fitness ? `Because you take ${discipline}` : `Because you like ${discipline}`;
}
