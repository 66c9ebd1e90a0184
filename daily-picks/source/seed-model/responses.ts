/**
 * Simulated members who respond to the rows they are served (`flywheel simulate`). Each
 * simulated day a member opens the app or not (their activity rate), examines some places of the
 * rows (position bias), takes an examined class with a probability that follows their hidden
 * affinity for it (the utility the organic generator chooses by, plus how much they do that
 * discipline and duration), and otherwise does the workout they would have done anyway (the
 * generator's own choice). A class they examined and left becomes less attractive each time
 * (its affinity drops per ignore), so a member who keeps being shown it keeps ignoring it.
 *
 * Pure and deterministic: no I/O, no clock; every draw comes from a PRNG seeded from the seed,
 * the member and the day, so a member's day depends only on the seed, their state and the rows
 * they were served, not on the order members are simulated in.
 */
import { DAY_MS } from '../../../model/data/time.ts';
import { Rng, streamSeed } from '../../../model/data/rng.ts';
import { classAffinity } from './affinity.ts';
import { buildCatalogue, windowStartMs, type GeneratedCatalogue, type SeedModelOptions } from './catalogue.ts';
import { buildMember, type Member } from './members.ts';
import { STREAM } from './platform.ts';
import {
  applyDrift,
  completeSession,
  emptyWorkouts,
  OffsetTable,
  organicClass,
  sessionMinutes,
  simulateMemberWithState,
  weekdayFactor,
  type OrganicState,
} from './workouts.ts';

/** How simulated members look at rows and decide. */
export interface ResponseModelOptions {
  /** Within a row, position p (1-based) is examined with probability 1 / p^positionBias. @defaultValue 0.8 */
  positionBias: number;
  /** The r-th row on screen (1-based) is looked at with probability 1 / r^rowBias. @defaultValue 0.5 */
  rowBias: number;
  /** The take probability of an examined class: takeMax · σ(affinity − takeThreshold − ignorePenalty · ignores). @defaultValue 0.6 */
  takeMax: number;
  /** @defaultValue 2.5 */
  takeThreshold: number;
  /** Affinity (log-odds) a class loses each day the member examined it and took something else. @defaultValue 0.8 */
  ignorePenalty: number;
  /** Factor on the take probability of a class the member has already taken (a repeat). @defaultValue 0.1 */
  repeatFactor: number;
}

export const DEFAULT_RESPONSE_OPTIONS: ResponseModelOptions = {
  positionBias: 0.8,
  rowBias: 0.5,
  takeMax: 0.6,
  takeThreshold: 2.5,
  ignorePenalty: 0.8,
  repeatFactor: 0.1,
};

/** The catalogue and calendar the simulated days happen in. */
export interface SimulationWorld {
  seed: number;
  catalogue: GeneratedCatalogue;
  classIndex: Map<string, number>;
  /** Start of simulated day 0 (UTC ms): the end of the seeded history. */
  startMs: number;
  days: number;
  offsets: OffsetTable;
  options: ResponseModelOptions;
}

/** A member as the simulator carries them from day to day. */
export interface SimulatedMember {
  member: Member;
  /** Their organic habits' state (recent classes, program position, drift). */
  organic: OrganicState;
  /** Class id → days the member examined it and did not take it. */
  ignores: ReadonlyMap<string, number>;
}

/** A row as served, in screen order: its name and class ids in position order. */
export interface ServedRow {
  row: string;
  classIds: readonly string[];
}

export interface SimulatedWorkout {
  classId: string;
  /** UTC ms. */
  startedAt: number;
  completion: number;
  /** Taken from a row (the main class of a session); false for organic ones and follow-up stretches. */
  picked: boolean;
  row: string | null;
  /** 1-based. */
  position: number | null;
}

/** When the member works out on a day, decided before anything is served. */
export interface DayPlan {
  /** Sessions (UTC ms, ascending); none: the member does not open the app that day. */
  sessions: number[];
  /** When the app fetches their picks (a few minutes before the first session), or null. */
  servedAt: number | null;
}

export interface DayResponse extends DayPlan {
  workouts: SimulatedWorkout[];
  /** Class ids examined and not taken that day. */
  ignored: string[];
  /** The member after the day (organic state and ignore memory updated). */
  next: SimulatedMember;
}

/**
 * The world of a platform seeded with `seed` whose last `days` days are simulated: its workouts
 * before then are the history, the simulation replaces those after (classes still air and
 * members still sign up or churn in those days, as the seed has them).
 */
export function simulationWorld(seed: SeedModelOptions, days: number, options: Partial<ResponseModelOptions> = {}): SimulationWorld {
  if (!Number.isInteger(days) || days < 1 || days >= seed.days) throw new RangeError(`simulated days must be an integer from 1 to ${seed.days - 1} (the seeded window's days less one), got ${days}`);
  const catalogue = buildCatalogue(seed);
  const classIndex = new Map<string, number>();
  catalogue.id.forEach((id, i) => classIndex.set(id, i));
  const startMs = seed.until.getTime() - days * DAY_MS;
  // Offsets per UTC date from the date simulated day 0 starts on (a day need not start at midnight).
  const offsets = new OffsetTable(Math.floor(startMs / DAY_MS) * DAY_MS, days + 1);
  return { seed: seed.seed, catalogue, classIndex, startMs, days, offsets, options: { ...DEFAULT_RESPONSE_OPTIONS, ...options } };
}

/** The seeded members as they stand when the simulation starts (their organic state replayed by the generator up to then). */
export function simulatedMembers(seed: SeedModelOptions, world: SimulationWorld): SimulatedMember[] {
  const offsets = new OffsetTable(windowStartMs(seed), seed.days);
  const result: SimulatedMember[] = [];
  for (let i = 0; i < seed.members; i += 1) {
    const member = buildMember(seed, world.catalogue, i);
    const { state } = simulateMemberWithState(seed, world.catalogue, offsets, member, emptyWorkouts(), world.startMs);
    result.push({ member, organic: { ...state, history: state.history.slice(-20) }, ignores: new Map() });
  }
  return result;
}

function dayRng(world: SimulationWorld, member: Member, day: number, phase: number): Rng {
  return new Rng(streamSeed(streamSeed(world.seed, STREAM.responses, member.index), day, phase));
}

/** Whether the member can work out at `t`: signed up, not churned. Cold-start members start here. */
function activeAt(member: Member, t: number): boolean {
  return t >= member.signupMs && (member.kind === 'cold' || t < member.stopMs);
}

/** The member's sessions on simulated day `day` (their local hour, within the day) and when they open the app. */
export function planDay(world: SimulationWorld, sim: SimulatedMember, day: number): DayPlan {
  const { member } = sim;
  const rng = dayRng(world, member, day, 0);
  const dayStart = world.startMs + day * DAY_MS;
  const count = rng.poisson((member.weeklyRate / 7) * weekdayFactor(dayStart));
  const midnight = world.offsets.localMidnight(member.timezone, Math.min(day, world.days));
  const sessions: number[] = [];
  let hour = member.hour;
  for (let s = 0; s < count; s += 1) {
    const local = midnight + sessionMinutes(rng, hour) * 60_000 + rng.int(60) * 1000;
    hour = (hour + 7) % 24;
    // The simulated day is a UTC window; a local hour falls in it exactly once.
    const t = dayStart + ((((local - dayStart) % DAY_MS) + DAY_MS) % DAY_MS);
    if (activeAt(member, t)) sessions.push(t);
  }
  sessions.sort((a, b) => a - b);
  const lead = (2 + rng.int(18)) * 60_000;
  return { sessions, servedAt: sessions.length === 0 ? null : Math.max(dayStart, sessions[0]! - lead) };
}

/** The probability that the member takes class `cls` at `t` once they have examined it, given how often they ignored it. */
export function takeProbability(world: SimulationWorld, sim: SimulatedMember, cls: number, t: number, ignores: number): number {
  const { options } = world;
  const affinity = classAffinity(world.catalogue, sim.member, sim.organic.weights, sim.organic.durations, cls, t);
  const p = options.takeMax / (1 + Math.exp(-(affinity - options.takeThreshold - options.ignorePenalty * ignores)));
  return sim.organic.history.includes(cls) ? p * options.repeatFactor : p;
}

interface Slot {
  cls: number;
  classId: string;
  row: string;
  position: number;
}

/** The places the member looks at (rows top to bottom, positions left to right), by position bias. */
function examine(world: SimulationWorld, rng: Rng, rows: readonly ServedRow[]): Slot[] {
  const slots: Slot[] = [];
  rows.forEach((row, r) => {
    const rowSeen = 1 / Math.pow(r + 1, world.options.rowBias);
    row.classIds.forEach((classId, p) => {
      const seen = rng.chance(rowSeen / Math.pow(p + 1, world.options.positionBias));
      const cls = world.classIndex.get(classId);
      if (seen && cls !== undefined) slots.push({ cls, classId, row: row.row, position: p + 1 });
    });
  });
  return slots;
}

/**
 * The member's day given the rows served to them: the workouts (a class taken from a row, or
 * their organic choice, per session; a follow-up stretch sometimes after either), the classes
 * they examined and ignored, and the member after the day. `rows` is ignored on a day they do
 * not open the app. Does not modify `sim`.
 */
export function respondToDay(world: SimulationWorld, sim: SimulatedMember, day: number, rows: readonly ServedRow[]): DayResponse {
  const plan = planDay(world, sim, day);
  const dayStart = world.startMs + day * DAY_MS;
  const organic: OrganicState = { ...sim.organic, history: sim.organic.history.slice(-20), weights: sim.organic.weights.slice() };
  applyDrift(sim.member, organic, dayStart);
  const current: SimulatedMember = { ...sim, organic };
  if (plan.sessions.length === 0) return { ...plan, workouts: [], ignored: [], next: current };
  const rng = dayRng(world, sim.member, day, 1);
  const slots = examine(world, rng, rows);
  const out = emptyWorkouts();
  const workouts: SimulatedWorkout[] = [];
  const taken = new Set<number>();
  const dayEnd = dayStart + DAY_MS;
  for (const t of plan.sessions) {
    let chosen: Slot | null = null;
    for (const slot of slots) {
      if (taken.has(slot.cls)) continue;
      if (rng.chance(takeProbability(world, current, slot.cls, t, sim.ignores.get(slot.classId) ?? 0))) {
        chosen = slot;
        break;
      }
    }
    const cls = chosen ? chosen.cls : organicClass(world.catalogue, sim.member, rng, organic, t);
    if (cls < 0) continue;
    const from = out.classId.length;
    const before = organic.history.length;
    completeSession(world.catalogue, sim.member, rng, organic, cls, t, dayEnd, out);
    // A follow-up stretch that was on a row is taken, not ignored, too.
    for (const c of organic.history.slice(before)) taken.add(c);
    for (let k = from; k < out.classId.length; k += 1) {
      const main = k === from && chosen !== null;
      workouts.push({
        classId: out.classId[k]!,
        startedAt: out.startedAt[k]! * 1000,
        completion: out.completion[k]!,
        picked: main,
        row: main ? chosen!.row : null,
        position: main ? chosen!.position : null,
      });
    }
  }
  const ignored = [...new Set(slots.filter((s) => !taken.has(s.cls)).map((s) => s.classId))];
  const ignores = new Map(sim.ignores);
  for (const classId of ignored) ignores.set(classId, (ignores.get(classId) ?? 0) + 1);
  organic.history = organic.history.slice(-20);
  return { ...plan, workouts, ignored, next: { member: sim.member, organic, ignores } };
}
