import type { Catalogue } from './catalogue.ts';
import type { History } from './history.ts';

/** What the heuristics and the row filters know about one member, from their history. */
export interface MemberProfile {
  workouts: number;
  /** Epoch ms of the last workout, NaN without one. */
  lastActive: number;
  /**
   * Recency-weighted counts (a workout `h` workouts ago weighs 0.5^(h / halfLife)). A class with
   * several categories counts fully towards each, so these may add up to more than `totalWeight`.
   */
  disciplineWeights: Map<number, number>;
  durationWeights: Map<number, number>;
  instructorWeights: Map<number, number>;
  totalWeight: number;
  /** The most frequent (recency-weighted) single category / duration index / instructor, -1 without history. */
  topDiscipline: number;
  topDuration: number;
  topInstructor: number;
  /** Single categories in at least `usualShare` of the member's (recency-weighted) workouts (always the top one). */
  usualDisciplines: Set<number>;
  /** Classes the member took (class indices) and instructors they took a class with. */
  taken: Set<number>;
  takenInstructors: Set<number>;
}

export interface ProfileOptions {
  /** @defaultValue 20 workouts */
  halfLife?: number;
  /** @defaultValue 0.2 */
  usualShare?: number;
}

function argmax(weights: Map<number, number>): number {
  let best = -1;
  let bestWeight = Number.NEGATIVE_INFINITY;
  for (const [key, weight] of weights) {
    if (weight > bestWeight || (weight === bestWeight && key < best)) {
      best = key;
      bestWeight = weight;
    }
  }
  return best;
}

function add(map: Map<number, number>, key: number, weight: number): void {
  if (key < 0) return;
  map.set(key, (map.get(key) ?? 0) + weight);
}

/** Builds a member's profile from their workouts (class indices, oldest first). */
export function profileFromWorkouts(catalogue: Catalogue, classIdx: ArrayLike<number>, lastActive: number, options: ProfileOptions = {}): MemberProfile {
  const halfLife = options.halfLife ?? 20;
  const usualShare = options.usualShare ?? 0.2;
  const { categoryOffsets, categoryIdx } = catalogue;
  const disciplineWeights = new Map<number, number>();
  const durationWeights = new Map<number, number>();
  const instructorWeights = new Map<number, number>();
  const taken = new Set<number>();
  const takenInstructors = new Set<number>();
  let totalWeight = 0;
  const n = classIdx.length;
  for (let j = 0; j < n; j++) {
    const c = classIdx[j]!;
    const weight = 0.5 ** ((n - 1 - j) / halfLife);
    totalWeight += weight;
    const from = categoryOffsets[c]!;
    const to = categoryOffsets[c + 1]!;
    // A Comedy|Romance film is a Comedy and a Romance: each category gets the workout's full
    // weight (as in the population's shares; splitting it 1/k scored no better on MovieLens).
    for (let k = from; k < to; k++) add(disciplineWeights, categoryIdx[k]!, weight);
    add(durationWeights, catalogue.durationIdx[c]!, weight);
    add(instructorWeights, catalogue.instructor[c]!, weight);
    taken.add(c);
    if (catalogue.instructor[c]! >= 0) takenInstructors.add(catalogue.instructor[c]!);
  }
  const topDiscipline = argmax(disciplineWeights);
  const usualDisciplines = new Set<number>();
  for (const [d, weight] of disciplineWeights) if (weight >= usualShare * totalWeight) usualDisciplines.add(d);
  if (topDiscipline >= 0) usualDisciplines.add(topDiscipline);
  return {
    workouts: n,
    lastActive,
    disciplineWeights,
    durationWeights,
    instructorWeights,
    totalWeight,
    topDiscipline,
    topDuration: argmax(durationWeights),
    topInstructor: argmax(instructorWeights),
    usualDisciplines,
    taken,
    takenInstructors,
  };
}

/** The profile of member `m` of a loaded history. */
export function profileOf(catalogue: Catalogue, history: History, member: number, options?: ProfileOptions): MemberProfile {
  const { start, end } = history.workoutsOf(member);
  return profileFromWorkouts(catalogue, history.classIdx.subarray(start, end), history.lastActive(member), options);
}
