import type { Catalogue } from '../../model/data/catalogue.ts';
import type { MemberProfile } from '../../model/data/profiles.ts';
import { DAY_MS } from '../../model/data/time.ts';

/** What a filter sees besides the class: the catalogue, the member and the as-of time. */
export interface FilterContext {
  catalogue: Catalogue;
  profile: MemberProfile;
  /** Epoch ms. */
  asOf: number;
}

/**
 * A declarative filter over a member's ranked list. Each is plain data (`kind` plus its
 * parameters), so a row's definition can be printed, stored and compared.
 */
export type ClassFilter =
  | { kind: 'maxDuration'; minutes: number }
  | { kind: 'usualDiscipline' }
  | { kind: 'notUsualDiscipline' }
  | { kind: 'notTaken' }
  | { kind: 'encoreInAirWeek'; days: number }
  | { kind: 'newInstructor' }
  | { kind: 'anyOf'; filters: ClassFilter[] };

export const filters = {
  /** Duration known and at most `minutes`. */
  maxDuration: (minutes: number): ClassFilter => ({ kind: 'maxDuration', minutes }),
  /** One of the class's categories in the member's usual set. */
  usualDiscipline: (): ClassFilter => ({ kind: 'usualDiscipline' }),
  /** Categories known and none in the member's usual set. */
  notUsualDiscipline: (): ClassFilter => ({ kind: 'notUsualDiscipline' }),
  /** The member has not taken the class. */
  notTaken: (): ClassFilter => ({ kind: 'notTaken' }),
  /** An encore special only during its air week (`days` after airing). */
  encoreInAirWeek: (days = 7): ClassFilter => ({ kind: 'encoreInAirWeek', days }),
  /** Taught by an instructor the member has never taken a class with. */
  newInstructor: (): ClassFilter => ({ kind: 'newInstructor' }),
  anyOf: (...any: ClassFilter[]): ClassFilter => ({ kind: 'anyOf', filters: any }),
} as const;

/** Whether class `c` passes `filter` for the member in `context`. */
export function matches(filter: ClassFilter, c: number, context: FilterContext): boolean {
  const { catalogue, profile } = context;
  switch (filter.kind) {
    case 'maxDuration': {
      const minutes = catalogue.durationMin[c]!;
      return minutes >= 0 && minutes <= filter.minutes;
    }
    case 'usualDiscipline':
      return anyUsual(catalogue, profile, c);
    case 'notUsualDiscipline':
      return catalogue.discipline[c]! >= 0 && !anyUsual(catalogue, profile, c);
    case 'notTaken':
      return !profile.taken.has(c);
    case 'encoreInAirWeek': {
      if (catalogue.isEncore[c] !== 1) return true;
      const aired = catalogue.airedAt[c]!;
      return !Number.isNaN(aired) && context.asOf - aired <= filter.days * DAY_MS;
    }
    case 'newInstructor': {
      const i = catalogue.instructor[c]!;
      return i >= 0 && !profile.takenInstructors.has(i);
    }
    case 'anyOf':
      return filter.filters.some((f) => matches(f, c, context));
  }
}

/** Whether one of class `c`'s categories is in the member's usual set. */
export function anyUsual(catalogue: Catalogue, profile: MemberProfile, c: number): boolean {
  const { categoryOffsets, categoryIdx } = catalogue;
  for (let k = categoryOffsets[c]!; k < categoryOffsets[c + 1]!; k++) if (profile.usualDisciplines.has(categoryIdx[k]!)) return true;
  return false;
}

/**
 * Why no class of the catalogue can pass `filter`, whoever the member: the attribute it needs
 * is missing from every class (e.g. imported items without durations); null when some can.
 */
export function unavailableReason(filter: ClassFilter, catalogue: Catalogue): string | null {
  switch (filter.kind) {
    case 'maxDuration':
      return catalogue.hasDurations ? null : 'no class has a duration';
    case 'usualDiscipline':
    case 'notUsualDiscipline':
      return catalogue.disciplines.length > 0 ? null : 'no class has a category';
    case 'newInstructor':
      return catalogue.hasInstructors ? null : 'no class has an instructor';
    case 'notTaken':
    case 'encoreInAirWeek':
      return null;
    case 'anyOf': {
      if (filter.filters.length === 0) return 'an empty anyOf passes no class';
      const reasons = filter.filters.map((f) => unavailableReason(f, catalogue));
      return reasons.every((r) => r !== null) ? reasons.join(' and ') : null;
    }
  }
}

export function matchesAll(all: readonly ClassFilter[], c: number, context: FilterContext): boolean {
  for (const filter of all) if (!matches(filter, c, context)) return false;
  return true;
}

/** Readable form of a filter, for logs and the README. */
export function describeFilter(filter: ClassFilter): string {
  switch (filter.kind) {
    case 'maxDuration':
      return `duration ≤ ${filter.minutes} min`;
    case 'usualDiscipline':
      return 'discipline in the usual set';
    case 'notUsualDiscipline':
      return 'discipline not in the usual set';
    case 'notTaken':
      return 'not taken before';
    case 'encoreInAirWeek':
      return `encore only within ${filter.days} days of airing`;
    case 'newInstructor':
      return 'instructor new to the member';
    case 'anyOf':
      return `any of (${filter.filters.map(describeFilter).join(', ')})`;
  }
}
