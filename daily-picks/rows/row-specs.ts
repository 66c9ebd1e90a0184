import { filters, type ClassFilter } from './filters.ts';
import type { ReasonStyle } from './reasons.ts';

/** The rows Daily Picks publishes, in the order a member sees them: the one list of their names. */
export const ROW_NAMES = ['for_your_usual', 'quick_workout', 'something_new', 'ranked'] as const;

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
