import type { Catalogue } from '../../model/data/catalogue.ts';
import type { MemberProfile } from '../../model/data/profiles.ts';
import { DAY_MS } from '../../model/data/time.ts';

function title(word: string): string {
  return word.length === 0 ? word : `${word[0]!.toUpperCase()}${word.slice(1)}`;
}

function disciplineLabel(catalogue: Catalogue, c: number): string {
  return title(catalogue.disciplineName(c) ?? 'class');
}

function withInstructor(catalogue: Catalogue, c: number): string {
  const name = catalogue.instructorName(c);
  return name ? ` with ${name}` : '';
}

/** Why a class is in a member's row, in words a member would read. */
export type ReasonStyle = 'usual' | 'quick' | 'new' | 'ranked' | 'popular';

export function reasonFor(style: ReasonStyle, catalogue: Catalogue, profile: MemberProfile | null, c: number, asOf: number): string {
  const minutes = catalogue.durationMin[c]!;
  const discipline = disciplineLabel(catalogue, c);
  const d = catalogue.discipline[c]!;
  const k = catalogue.durationIdx[c]!;
  const i = catalogue.instructor[c]!;
  const aired = catalogue.airedAt[c]!;
  const freshThisWeek = !Number.isNaN(aired) && asOf - aired < 7 * DAY_MS;
  if (style === 'popular' || profile === null || profile.workouts === 0) {
    return freshThisWeek ? `New this week: ${discipline}${withInstructor(catalogue, c)}` : `Popular this week in ${discipline}`;
  }
  const usualDuration = k >= 0 && k === profile.topDuration;
  const favouriteInstructor = i >= 0 && i === profile.topInstructor;
  const usualDiscipline = profile.usualDisciplines.has(d);
  if (style === 'new' || (style === 'ranked' && d >= 0 && !usualDiscipline)) {
    return `New to you: ${discipline}${withInstructor(catalogue, c)}`;
  }
  if (style === 'quick') {
    const quick = minutes >= 0 ? `A quick ${minutes}-min ${discipline} class` : `A quick ${discipline} class`;
    return favouriteInstructor ? `${quick} with ${catalogue.instructorName(c)}, your most-taken instructor` : quick;
  }
  if (usualDuration && d === profile.topDiscipline && minutes >= 0) return `You often take ${minutes}-min ${discipline}`;
  if (favouriteInstructor) return `You often take classes with ${catalogue.instructorName(c)}`;
  if (i >= 0 && !profile.takenInstructors.has(i) && usualDiscipline) return `${discipline}, with an instructor new to you: ${catalogue.instructorName(c)}`;
  if (freshThisWeek) return `New this week in ${discipline}, one of your usual disciplines`;
  return `Because you take ${discipline}`;
}
