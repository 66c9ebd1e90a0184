/** Workouts: each member simulated day by day through the window. */
import { DAY_MS } from '../../../model/data/time.ts';
import { Rng, streamSeed } from '../../../model/data/rng.ts';
import { DISCIPLINES, STREAM, TIMEZONES } from './platform.ts';
import { windowStartMs, type GeneratedCatalogue, type SeedModelOptions } from './catalogue.ts';
import type { Member } from './members.ts';
import { classUtility, durationWeightsFor, type DurationPreference } from './affinity.ts';

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

/** What a member's next organic session depends on besides their profile: it evolves as they work out. */
export interface OrganicState {
  /** Classes taken, oldest first (repeats draw from the last 20). */
  history: number[];
  /** Next position in the member's program. */
  programPos: number;
  /** Discipline weights (their profile's, until they drift). */
  weights: Float64Array;
  durations: DurationPreference;
  drifted: boolean;
}

/** The state a member starts the window in: no history, their program at its start point, no drift yet. */
export function initialOrganicState(options: SeedModelOptions, catalogue: GeneratedCatalogue, member: Member): OrganicState {
  let programPos = 0;
  if (member.program >= 0) {
    const list = catalogue.series.get(member.program)!;
    let before = 0;
    const start = windowStartMs(options);
    while (before < list.length && catalogue.airedMs[list[before]!]! < start) before += 1;
    programPos = Math.floor(member.programStart * before * 0.8);
  }
  return { history: [], programPos, weights: member.disciplineWeights.slice(), durations: { position: member.durationPosition, weights: [] }, drifted: false };
}

/** Drift once `dayStart` reaches the member's drift time: a new discipline takes 35% of the mass and/or classes get shorter or longer. */
export function applyDrift(member: Member, state: OrganicState, dayStart: number): void {
  if (state.drifted || dayStart < member.driftMs) return;
  state.drifted = true;
  if (member.driftDiscipline >= 0) {
    let total = 0;
    for (let d = 0; d < state.weights.length; d += 1) total += state.weights[d]!;
    state.weights[member.driftDiscipline]! += total * 0.55;
  }
  state.durations = { position: Math.min(1, Math.max(0, state.durations.position + member.driftDurationShift)), weights: [] };
}

/**
 * Simulates one member's workouts over the window, appending them (in time order) to `out`.
 * Returns how many were added.
 */
export function simulateMember(options: SeedModelOptions, catalogue: GeneratedCatalogue, offsets: OffsetTable, member: Member, out: WorkoutColumns): number {
  return simulateMemberWithState(options, catalogue, offsets, member, out).added;
}

/**
 * {@link simulateMember} up to `endMs` (default: the end of the window), also returning the
 * member's organic state then: where `flywheel simulate` carries on. The workouts are the whole
 * window's before `endMs` (the same draws), except on the day `endMs` falls in: a session there
 * after one skipped for starting at or after `endMs` draws differently.
 */
export function simulateMemberWithState(
  options: SeedModelOptions,
  catalogue: GeneratedCatalogue,
  offsets: OffsetTable,
  member: Member,
  out: WorkoutColumns,
  endMs = options.until.getTime(),
): { added: number; state: OrganicState } {
  const state = initialOrganicState(options, catalogue, member);
  if (member.kind === 'cold') return { added: 0, state };
  const rng = new Rng(streamSeed(options.seed, STREAM.workouts, member.index));
  const start = windowStartMs(options);
  const until = Math.min(options.until.getTime(), endMs);
  const before = out.memberId.length;
  const dailyRate = member.weeklyRate / 7;
  for (let day = 0; day < options.days; day += 1) {
    const dayStart = start + day * DAY_MS;
    if (dayStart >= until) break;
    applyDrift(member, state, dayStart);
    const sessions = rng.poisson(dailyRate * weekdayFactor(dayStart));
    if (sessions === 0) continue;
    const midnight = offsets.localMidnight(member.timezone, day);
    let hour = member.hour;
    for (let s = 0; s < sessions; s += 1) {
      const t = midnight + sessionMinutes(rng, hour) * 60_000 + rng.int(60) * 1000;
      hour = (hour + 7) % 24; // a second session the same day comes later
      if (t < start || t >= until || t < member.signupMs || t >= member.stopMs) continue;
      session(catalogue, member, rng, state, t, until, out);
    }
  }
  if (member.kind === 'inactive' && out.memberId.length === before) {
    // An inactive member worked out at least once before stopping.
    const t = Math.max(start, member.signupMs) + 12 * 3_600_000;
    if (t < member.stopMs && t < until) session(catalogue, member, rng, state, t, until, out);
  }
  return { added: out.memberId.length - before, state };
}

/** More sessions at weekends. */
export function weekdayFactor(dayStart: number): number {
  const dow = new Date(dayStart).getUTCDay();
  return dow === 0 || dow === 6 ? 1.25 : 0.9;
}

/** Local minute of day of a session around `hour`. Nobody works out between 23:30 and 05:00: reflect off those edges (no pile-up at them). */
export function sessionMinutes(rng: Rng, hour: number): number {
  let minutes = Math.round((hour + 0.9 * rng.normal()) * 60 + rng.int(60));
  if (minutes < 5 * 60) minutes = Math.min(10 * 60 - minutes, 23 * 60);
  if (minutes > 23 * 60 + 30) minutes = Math.max(47 * 60 - minutes, 5 * 60);
  return minutes;
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
function session(catalogue: GeneratedCatalogue, member: Member, rng: Rng, state: OrganicState, t: number, untilMs: number, out: WorkoutColumns): void {
  const cls = organicClass(catalogue, member, rng, state, t);
  if (cls >= 0) completeSession(catalogue, member, rng, state, cls, t, untilMs, out);
}

/** The class a member takes of their own accord at `t` (a repeat, the next of their program, or a fresh choice); -1 when nothing fits. */
export function organicClass(catalogue: GeneratedCatalogue, member: Member, rng: Rng, state: OrganicState, t: number): number {
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
    const d = rng.weighted(state.weights);
    const di = rng.weighted(durationWeightsFor(state.durations, d));
    cls = choose(catalogue, member, rng, d, di, t, -1);
  }
  return cls;
}

/**
 * Records class `cls` taken at `t` (its completion drawn from the difficulty fit) and, after a
 * long cardio class, sometimes a 5–10 min stretch right after (before `untilMs`), preferably
 * with the same instructor. Returns how many workouts were appended (1 or 2).
 */
export function completeSession(catalogue: GeneratedCatalogue, member: Member, rng: Rng, state: OrganicState, cls: number, t: number, untilMs: number, out: WorkoutColumns): number {
  push(out, member, catalogue, cls, t, rng);
  state.history.push(cls);
  if (DISCIPLINES[catalogue.discipline[cls]!]!.cardio && catalogue.durationMin[cls]! >= 20 && rng.chance(member.stretchRate)) {
    const follow = choose(catalogue, member, rng, STRETCHING, rng.chance(0.55) ? 0 : 1, t, catalogue.instructor[cls]!);
    if (follow >= 0) {
      const after = t + (catalogue.durationMin[cls]! + 1 + rng.int(3)) * 60_000;
      if (after < untilMs) {
        push(out, member, catalogue, follow, after, rng);
        state.history.push(follow);
        return 2;
      }
    }
  }
  return 1;
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
 * aired by `t`: a softmax over the member's utility (`classUtility`) for the freshest classes
 * and a sample of older ones.
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
  let total = 0;
  for (let k = 0; k < m; k += 1) {
    total += Math.exp(classUtility(catalogue, member, CANDIDATES[k]!, t, sameInstructor));
    CUMULATIVE[k] = total;
  }
  const x = rng.next() * total;
  for (let k = 0; k < m - 1; k += 1) if (x < CUMULATIVE[k]!) return CANDIDATES[k]!;
  return CANDIDATES[m - 1]!;
}
