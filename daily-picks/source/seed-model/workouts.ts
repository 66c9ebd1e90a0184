/** Workouts: each member simulated day by day through the window. */
import { DAY_MS } from '../../../model/data/time.ts';
import { Rng, streamSeed } from '../../../model/data/rng.ts';
import { DISCIPLINES, LATENT_DIM, STREAM, TIMEZONES } from './platform.ts';
import { windowStartMs, type GeneratedCatalogue, type SeedModelOptions } from './catalogue.ts';
import type { Member } from './members.ts';

/** Classes scored per choice: the freshest few plus a random sample of older ones. */
const CANDIDATES_FRESH = 16;
const CANDIDATES_OLDER = 40;
/** Scratch space for `choose` (single-threaded, not re-entrant). */
const CANDIDATES = new Int32Array(CANDIDATES_FRESH + CANDIDATES_OLDER);
const CUMULATIVE = new Float64Array(CANDIDATES_FRESH + CANDIDATES_OLDER);

export interface WorkoutColumns {
  memberId: string[];
  classId: string[];
  /** Unix seconds. */
  startedAt: number[];
  completion: number[];
}

export function emptyWorkouts(): WorkoutColumns {
  return { memberId: [], classId: [], startedAt: [], completion: [] };
}

/** UTC offset (minutes) of each member timezone on each day of the window, computed once. */
export class OffsetTable {
  private readonly table: Int16Array;
  constructor(
    private readonly startMs: number,
    private readonly days: number,
  ) {
    this.table = new Int16Array(TIMEZONES.length * days);
    for (let z = 0; z < TIMEZONES.length; z += 1) {
      const format = new Intl.DateTimeFormat('en-US', { timeZone: TIMEZONES[z]!.zone, timeZoneName: 'longOffset' });
      for (let d = 0; d < days; d += 1) {
        const part = format.formatToParts(new Date(startMs + d * DAY_MS + DAY_MS / 2)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
        const m = /GMT([+-])(\d{2}):(\d{2})/.exec(part);
        this.table[z * days + d] = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
      }
    }
  }
  /** UTC ms of local midnight of day `day` (the window's day, as a calendar date) in zone `z`. */
  localMidnight(z: number, day: number): number {
    return this.startMs + day * DAY_MS - this.table[z * this.days + day]! * 60_000;
  }
}

interface SimState {
  history: number[];
  /** Next position in the member's program. */
  programPos: number;
}

/**
 * Simulates one member's workouts over the window, appending them (in time order) to `out`.
 * Returns how many were added.
 */
export function simulateMember(options: SeedModelOptions, catalogue: GeneratedCatalogue, offsets: OffsetTable, member: Member, out: WorkoutColumns): number {
  if (member.kind === 'cold') return 0;
  const rng = new Rng(streamSeed(options.seed, STREAM.workouts, member.index));
  const start = windowStartMs(options);
  const until = options.until.getTime();
  let programPos = 0;
  if (member.program >= 0) {
    const list = catalogue.series.get(member.program)!;
    let before = 0;
    while (before < list.length && catalogue.airedMs[list[before]!]! < start) before += 1;
    programPos = Math.floor(member.programStart * before * 0.8);
  }
  const state: SimState = { history: [], programPos };
  const before = out.memberId.length;
  const weights = member.disciplineWeights.slice();
  let durations: DurationPreference = { position: member.durationPosition, weights: [] };
  let drifted = false;
  const dailyRate = member.weeklyRate / 7;
  for (let day = 0; day < options.days; day += 1) {
    const dayStart = start + day * DAY_MS;
    if (!drifted && dayStart >= member.driftMs) {
      // Drift: adopt a new discipline (it takes 35% of the mass) and/or move to shorter or longer classes.
      drifted = true;
      if (member.driftDiscipline >= 0) {
        let total = 0;
        for (let d = 0; d < weights.length; d += 1) total += weights[d]!;
        weights[member.driftDiscipline]! += total * 0.55;
      }
      durations = { position: Math.min(1, Math.max(0, durations.position + member.driftDurationShift)), weights: [] };
    }
    const dow = new Date(dayStart).getUTCDay();
    const sessions = rng.poisson(dailyRate * (dow === 0 || dow === 6 ? 1.25 : 0.9));
    if (sessions === 0) continue;
    const midnight = offsets.localMidnight(member.timezone, day);
    let hour = member.hour;
    for (let s = 0; s < sessions; s += 1) {
      let minutes = Math.round((hour + 0.9 * rng.normal()) * 60 + rng.int(60));
      // Nobody works out between 23:30 and 05:00: reflect off those edges (no pile-up at them).
      if (minutes < 5 * 60) minutes = Math.min(10 * 60 - minutes, 23 * 60);
      if (minutes > 23 * 60 + 30) minutes = Math.max(47 * 60 - minutes, 5 * 60);
      const t = midnight + minutes * 60_000 + rng.int(60) * 1000;
      hour = (hour + 7) % 24; // a second session the same day comes later
      if (t < start || t >= until || t < member.signupMs || t >= member.stopMs) continue;
      session(options, catalogue, member, rng, state, weights, durations, t, out);
    }
  }
  if (member.kind === 'inactive' && out.memberId.length === before) {
    // An inactive member worked out at least once before stopping.
    const t = Math.max(start, member.signupMs) + 12 * 3_600_000;
    if (t < member.stopMs) session(options, catalogue, member, rng, state, weights, durations, t, out);
  }
  return out.memberId.length - before;
}

/** A member's duration weights per discipline at their current duration position (recomputed after drift). */
interface DurationPreference {
  position: number;
  weights: (number[] | undefined)[];
}

function durationWeightsFor(preference: DurationPreference, discipline: number): number[] {
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

function push(out: WorkoutColumns, member: Member, catalogue: GeneratedCatalogue, cls: number, t: number, rng: Rng): void {
  const mismatch = Math.abs(catalogue.difficulty[cls]! - member.level);
  const completion = rng.chance(0.82 - 0.15 * mismatch) ? 1 : Math.round(rng.range(0.15, 0.98) * 100) / 100;
  out.memberId.push(member.id);
  out.classId.push(catalogue.id[cls]!);
  out.startedAt.push(Math.floor(t / 1000));
  out.completion.push(completion);
}

/** One session: a main class (a repeat, or a fresh choice), sometimes followed by a short stretch. */
function session(
  options: SeedModelOptions,
  catalogue: GeneratedCatalogue,
  member: Member,
  rng: Rng,
  state: SimState,
  weights: Float64Array,
  durations: DurationPreference,
  t: number,
  out: WorkoutColumns,
): void {
  let cls = -1;
  if (state.history.length >= 3 && rng.chance(member.repeatRate)) {
    // Repeat a class they took recently (not an encore special).
    const recent = state.history.slice(-20).filter((i) => catalogue.isEncore[i] === 0);
    if (recent.length > 0) cls = rng.pick(recent);
  }
  if (cls < 0 && member.program >= 0 && rng.chance(0.35)) {
    // Working through a program: the next class of the series, if it has aired.
    const list = catalogue.series.get(member.program)!;
    if (state.programPos < list.length && catalogue.airedMs[list[state.programPos]!]! <= t) {
      cls = list[state.programPos]!;
      state.programPos += 1;
    }
  }
  if (cls < 0) {
    const d = rng.weighted(weights);
    const di = rng.weighted(durationWeightsFor(durations, d));
    cls = choose(catalogue, member, rng, d, di, t, -1);
  }
  if (cls < 0) return;
  push(out, member, catalogue, cls, t, rng);
  state.history.push(cls);
  if (DISCIPLINES[catalogue.discipline[cls]!]!.cardio && catalogue.durationMin[cls]! >= 20 && rng.chance(member.stretchRate)) {
    // After a long effort: a 5–10 min stretch, preferably with the same instructor.
    const follow = choose(catalogue, member, rng, STRETCHING, rng.chance(0.55) ? 0 : 1, t, catalogue.instructor[cls]!);
    if (follow >= 0) {
      const after = t + (catalogue.durationMin[cls]! + 1 + rng.int(3)) * 60_000;
      if (after < options.until.getTime()) {
        push(out, member, catalogue, follow, after, rng);
        state.history.push(follow);
      }
    }
  }
}

const STRETCHING = DISCIPLINES.findIndex((d) => d.name === 'stretching');

/** Upper bound: how many entries of the sorted `aired` are ≤ t. */
function airedBy(aired: Float64Array, t: number): number {
  let lo = 0;
  let hi = aired.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (aired[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Chooses a class of discipline `d`, duration index `di` (or the nearest duration with classes)
 * aired by `t`: a softmax (Gumbel-max) over the member's utility for the freshest classes and a
 * sample of older ones. Utility = vibe match (hidden) + quality + favourite instructor +
 * language + difficulty fit + freshness (encores: strong in their air week, weak after).
 */
function choose(catalogue: GeneratedCatalogue, member: Member, rng: Rng, d: number, di: number, t: number, sameInstructor: number): number {
  const row = catalogue.buckets[d]!;
  let bucket = row[di]!;
  let available = airedBy(bucket.aired, t);
  for (let step = 1; available === 0 && step < row.length; step += 1) {
    for (const other of [di - step, di + step]) {
      if (other < 0 || other >= row.length) continue;
      const b = row[other]!;
      const a = airedBy(b.aired, t);
      if (a > 0) {
        bucket = b;
        available = a;
        break;
      }
    }
  }
  if (available === 0) return -1;
  // Candidates: the freshest few and a sample of older ones.
  const ids = bucket.ids;
  let m = 0;
  if (available <= CANDIDATES_FRESH + CANDIDATES_OLDER) {
    for (let k = 0; k < available; k += 1) CANDIDATES[m++] = ids[k]!;
  } else {
    for (let k = available - CANDIDATES_FRESH; k < available; k += 1) CANDIDATES[m++] = ids[k]!;
    const older = available - CANDIDATES_FRESH;
    for (let k = 0; k < CANDIDATES_OLDER; k += 1) CANDIDATES[m++] = ids[rng.int(older)]!;
  }
  // A draw from the softmax over the member's utilities.
  const lat = catalogue.latent;
  const u = member.latent;
  const favourites = member.favouriteInstructors;
  let total = 0;
  for (let k = 0; k < m; k += 1) {
    const cls = CANDIDATES[k]!;
    const o = cls * LATENT_DIM;
    let s = 0.9 * (u[0]! * lat[o]! + u[1]! * lat[o + 1]! + u[2]! * lat[o + 2]! + u[3]! * lat[o + 3]!);
    s += catalogue.quality[cls]!;
    const ins = catalogue.instructor[cls]!;
    if (favourites.includes(ins)) s += 1.6;
    if (ins === sameInstructor) s += 1.5;
    if (catalogue.language[cls]! !== member.language) s -= 2.5;
    s -= 0.7 * Math.abs(catalogue.difficulty[cls]! - member.level);
    const ageDays = (t - catalogue.airedMs[cls]!) / DAY_MS;
    if (catalogue.isEncore[cls]) s += ageDays < 7 ? 2.5 : -3;
    else if (ageDays < 60) s += member.freshnessTaste * Math.exp(-ageDays / 10); // negligible past 60 days
    total += Math.exp(s);
    CUMULATIVE[k] = total;
  }
  const x = rng.next() * total;
  for (let k = 0; k < m - 1; k += 1) if (x < CUMULATIVE[k]!) return CANDIDATES[k]!;
  return CANDIDATES[m - 1]!;
}
