/**
 * A member's hidden affinity for a class: the utility the organic generator's softmax uses to
 * choose among classes (workouts.ts), and, for the simulator (responses.ts), the same utility
 * plus the log-odds of the member drawing that discipline and duration at all.
 */
import { DAY_MS } from '../../../model/data/time.ts';
import { DISCIPLINES, LATENT_DIM } from './platform.ts';
import type { GeneratedCatalogue } from './catalogue.ts';
import type { Member } from './members.ts';

/** A member's duration weights per discipline at their current duration position (recomputed after drift). */
export interface DurationPreference {
  position: number;
  weights: (number[] | undefined)[];
}

export function durationWeightsFor(preference: DurationPreference, discipline: number): number[] {
  let w = preference.weights[discipline];
  if (!w) preference.weights[discipline] = w = durationWeights(discipline, preference.position);
  return w;
}

function durationWeights(discipline: number, position: number): number[] {
  const n = DISCIPLINES[discipline]!.durations.length;
  const result: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const x = n === 1 ? 0 : i / (n - 1) - position;
    result.push(Math.exp(-(x * x) / (2 * 0.14 * 0.14)) + 0.02);
  }
  return result;
}

/**
 * The member's utility for class `cls` at time `t` (the softmax logit of the organic choice):
 * vibe match (hidden) + quality + favourite instructor + language + difficulty fit + freshness
 * (encores: strong in their air week, weak after); `sameInstructor` (or -1) favours a follow-up
 * with the instructor of the class just taken. The arithmetic is in the generator's order, so
 * `flywheel seed` output does not depend on this being a function.
 */
export function classUtility(catalogue: GeneratedCatalogue, member: Member, cls: number, t: number, sameInstructor: number): number {
  const lat = catalogue.latent;
  const u = member.latent;
  const o = cls * LATENT_DIM;
  let s = 0.9 * (u[0]! * lat[o]! + u[1]! * lat[o + 1]! + u[2]! * lat[o + 2]! + u[3]! * lat[o + 3]!);
  s += catalogue.quality[cls]!;
  const ins = catalogue.instructor[cls]!;
  if (member.favouriteInstructors.includes(ins)) s += 1.6;
  if (ins === sameInstructor) s += 1.5;
  if (catalogue.language[cls]! !== member.language) s -= 2.5;
  s -= 0.7 * Math.abs(catalogue.difficulty[cls]! - member.level);
  const ageDays = (t - catalogue.airedMs[cls]!) / DAY_MS;
  if (catalogue.isEncore[cls]) s += ageDays < 7 ? 2.5 : -3;
  else if (ageDays < 60) s += member.freshnessTaste * Math.exp(-ageDays / 10); // negligible past 60 days
  return s;
}

/**
 * The member's whole affinity for a class at `t`: log share of its discipline in their (drifted)
 * weights + log share of its duration in their duration preference + {@link classUtility}. A
 * class of a discipline they never do scores low however good it is, as in the organic choice
 * (discipline first, then duration, then the class).
 */
export function classAffinity(catalogue: GeneratedCatalogue, member: Member, weights: ArrayLike<number>, durations: DurationPreference, cls: number, t: number): number {
  const d = catalogue.discipline[cls]!;
  let total = 0;
  for (let k = 0; k < weights.length; k += 1) total += weights[k]!;
  const dw = durationWeightsFor(durations, d);
  let durationTotal = 0;
  for (const w of dw) durationTotal += w;
  return Math.log(weights[d]! / total) + Math.log(dw[catalogue.durationIndex[cls]!]! / durationTotal) + classUtility(catalogue, member, cls, t, -1);
}
