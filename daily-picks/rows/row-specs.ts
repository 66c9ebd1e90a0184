import type { Catalogue } from '../../model/data/catalogue.ts';
import { filters, unavailableReason, type ClassFilter } from './filters.ts';
import type { ReasonStyle } from './reasons.ts';

/** The named rows, the shelves a member looks through, in the order they see them. */
export const NAMED_ROW_NAMES = ['for_your_usual', 'quick_workout', 'something_new'] as const;

/** The rows Daily Picks publishes, in the order a member sees them: the one list of their names. */
export const ROW_NAMES = [...NAMED_ROW_NAMES, 'ranked'] as const;

export type RowName = (typeof ROW_NAMES)[number];

/** One row of a member's picks: its name, length, filters and how its reasons read. */
export interface RowSpec {
  row: RowName;
  size: number;
  where: ClassFilter[];
  reason: ReasonStyle;
}

/**
 * The named rows, filled in this order; a class taken by one named row is not offered by a
 * later one. `ranked` is the member's full top-N and may repeat classes of the named rows.
 */
export function defaultRowSpecs(rowSize: number, rankedSize: number): { named: RowSpec[]; ranked: RowSpec } {
  const always = [filters.notTaken(), filters.encoreInAirWeek(7)];
  return {
    named: [
      { row: 'for_your_usual', size: rowSize, where: [filters.usualDiscipline(), ...always], reason: 'usual' },
      { row: 'quick_workout', size: rowSize, where: [filters.maxDuration(20), ...always], reason: 'quick' },
      { row: 'something_new', size: rowSize, where: [filters.notUsualDiscipline(), ...always], reason: 'new' },
    ],
    ranked: { row: 'ranked', size: rankedSize, where: always, reason: 'ranked' },
  };
}

/** A row no member gets from this catalogue, and why (for the rows step's log). */
export interface UnavailableRow {
  row: RowName;
  reason: string;
}

/**
 * The rows of `specs` that no class of the catalogue can fill, whoever the member, because a
 * filter needs an attribute no class has — e.g. `quick_workout` (duration ≤ 20 min) on imported
 * items without durations: `[{ row: 'quick_workout', reason: 'no class has a duration' }]`.
 * `cutRows` leaves these rows out rather than fill them with classes that do not fit.
 * @param specs rows to check; by default the named rows of `defaultRowSpecs`
 */
export function rowsUnavailable(catalogue: Catalogue, specs: readonly RowSpec[] = defaultRowSpecs(1, 1).named): UnavailableRow[] {
  const out: UnavailableRow[] = [];
  for (const spec of specs) {
    const reasons = spec.where.map((f) => unavailableReason(f, catalogue)).filter((r): r is string => r !== null);
    if (reasons.length > 0) out.push({ row: spec.row, reason: [...new Set(reasons)].join('; ') });
  }
  return out;
}
