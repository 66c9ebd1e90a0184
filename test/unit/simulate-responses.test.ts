/**
 * The simulator's members (daily-picks/source/seed-model/responses.ts): deterministic by seed,
 * position bias, ignored classes keep being ignored, organic workouts go on.
 */
import { describe, expect, it } from 'vitest';
import { classAffinity } from '../../daily-picks/source/seed-model/affinity.ts';
import { respondToDay, simulatedMembers, simulationWorld, takeProbability, type DayResponse, type ServedRow, type SimulatedMember, type SimulationWorld } from '../../daily-picks/source/seed-model/responses.ts';
import type { SeedModelOptions } from '../../daily-picks/source/seed-model/catalogue.ts';
import { TIMEZONES } from '../../daily-picks/source/seed-model/platform.ts';
import { DAY_MS } from '../../model/data/time.ts';

const SIM_DAYS = 7;
const seedOptions = (seed: number, members = 400): SeedModelOptions => ({ members, classes: 240, days: 40, seed, until: new Date('2026-03-08T00:00:00Z') });

function setup(seed: number, members?: number) {
  const options = seedOptions(seed, members);
  const world = simulationWorld(options, SIM_DAYS);
  return { world, members: simulatedMembers(options, world) };
}

/** The member's `n` best classes aired by `t` (by their hidden affinity), best first. */
function favourites(world: SimulationWorld, sim: SimulatedMember, t: number, n: number): number[] {
  const c = world.catalogue;
  const scored: [number, number][] = [];
  for (let i = 0; i < c.count; i += 1) if (c.airedMs[i]! < t) scored.push([i, classAffinity(c, sim.member, sim.organic.weights, sim.organic.durations, i, t)]);
  return scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, n).map(([i]) => i);
}

/** A deterministic shuffle (a small LCG): the same for the same key. */
function shuffled<T>(items: readonly T[], key: number): T[] {
  const out = [...items];
  let s = (key * 2654435761) >>> 0;
  for (let i = out.length - 1; i > 0; i -= 1) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Runs every member through the simulated days with `rowsFor`'s rows, carrying each member's state over. */
function simulate(world: SimulationWorld, start: SimulatedMember[], rowsFor: (sim: SimulatedMember, day: number) => ServedRow[]): DayResponse[][] {
  let members = start;
  const days: DayResponse[][] = [];
  for (let day = 0; day < SIM_DAYS; day += 1) {
    const responses = members.map((sim) => respondToDay(world, sim, day, rowsFor(sim, day)));
    days.push(responses);
    members = responses.map((r) => r.next);
  }
  return days;
}

const oneRow = (world: SimulationWorld, classes: number[]): ServedRow[] => [{ row: 'for_your_usual', classIds: classes.map((i) => world.catalogue.id[i]!) }];

describe('simulated members respond to the rows they are served', () => {
  it('is deterministic by seed: the same seed and rows give the same days, another seed other days', () => {
    const rows = (world: SimulationWorld) => (sim: SimulatedMember, day: number) => oneRow(world, favourites(world, sim, world.startMs + day * DAY_MS, 10));
    const a = setup(11, 150);
    const b = setup(11, 150);
    const c = setup(12, 150);
    const strip = (days: DayResponse[][]) => days.map((d) => d.map((r) => ({ sessions: r.sessions, servedAt: r.servedAt, workouts: r.workouts, ignored: r.ignored })));
    const first = strip(simulate(a.world, a.members, rows(a.world)));
    expect(strip(simulate(b.world, b.members, rows(b.world)))).toEqual(first);
    expect(strip(simulate(c.world, c.members, rows(c.world)))).not.toEqual(first);
    expect(first.flat().some((r) => r.workouts.some((w) => w.picked))).toBe(true);
  });

  it('does not depend on the order members are simulated in or modify its input', () => {
    const { world, members } = setup(3, 60);
    const rows = (sim: SimulatedMember) => oneRow(world, favourites(world, sim, world.startMs, 10));
    const before = JSON.stringify(members.map((m) => ({ history: m.organic.history, ignores: [...m.ignores] })));
    const forward = members.map((sim) => respondToDay(world, sim, 2, rows(sim)));
    const backward = [...members].reverse().map((sim) => respondToDay(world, sim, 2, rows(sim))).reverse();
    expect(backward.map((r) => r.workouts)).toEqual(forward.map((r) => r.workouts));
    expect(JSON.stringify(members.map((m) => ({ history: m.organic.history, ignores: [...m.ignores] })))).toBe(before);
  });

  it('takes from the top positions more often (position bias)', () => {
    const { world, members } = setup(5, 800);
    // Each member's ten best classes in a random order each day: position alone differs.
    const days = simulate(world, members, (sim, day) => oneRow(world, shuffled(favourites(world, sim, world.startMs + day * DAY_MS, 10), sim.member.index * 31 + day)));
    const byPosition = new Array<number>(11).fill(0);
    for (const r of days.flat()) for (const w of r.workouts) if (w.picked) byPosition[w.position!]! += 1;
    const top = byPosition[1]! + byPosition[2]! + byPosition[3]!;
    const bottom = byPosition[8]! + byPosition[9]! + byPosition[10]!;
    expect(top).toBeGreaterThan(100);
    expect(top).toBeGreaterThan(2 * bottom);
    expect(byPosition[1]!).toBeGreaterThan(byPosition[10]!);
  });

  it('keeps ignoring a class it was shown and ignored: its take probability decays with each ignore', () => {
    const { world, members } = setup(7, 800);
    const sim = members.find((m) => m.organic.history.length > 5)!;
    const best = favourites(world, sim, world.startMs, 1)[0]!;
    const p = [0, 1, 2, 3, 5].map((n) => takeProbability(world, sim, best, world.startMs, n));
    for (let k = 1; k < p.length; k += 1) expect(p[k]!).toBeLessThan(p[k - 1]!);
    expect(p[4]!).toBeLessThan(p[0]! / 4);

    // The same row every day: a class examined and left is taken less and less when examined again.
    const fixed = new Map(members.map((m) => [m.member.index, oneRow(world, favourites(world, m, world.startMs, 10))]));
    let state = members;
    const examined = [0, 0, 0];
    const taken = [0, 0, 0];
    let ignoredAgain = 0;
    let seenAgain = 0;
    for (let day = 0; day < SIM_DAYS; day += 1) {
      const responses = state.map((m) => respondToDay(world, m, day, fixed.get(m.member.index)!));
      responses.forEach((r, k) => {
        const before = state[k]!.ignores;
        const picked = r.workouts.filter((w) => w.picked).map((w) => w.classId);
        for (const classId of [...r.ignored, ...picked]) {
          const n = Math.min(2, before.get(classId) ?? 0);
          examined[n]! += 1;
          if (picked.includes(classId)) taken[n]! += 1;
          if (n > 0) {
            seenAgain += 1;
            if (!picked.includes(classId)) ignoredAgain += 1;
          }
        }
        expect(r.next.ignores.size).toBeGreaterThanOrEqual(before.size);
      });
      state = responses.map((r) => r.next);
    }
    const rate = examined.map((e, n) => taken[n]! / e);
    expect(examined.every((e) => e > 50)).toBe(true);
    expect(rate[1]!).toBeLessThan(rate[0]!);
    expect(rate[2]!).toBeLessThan(rate[1]!);
    expect(ignoredAgain / seenAgain).toBeGreaterThan(0.9);
  });

  it('still does organic workouts: without rows, and beside picked classes', () => {
    const { world, members } = setup(9, 400);
    const none = simulate(world, members, () => []).flat();
    const opened = none.filter((r) => r.sessions.length > 0);
    expect(opened.length).toBeGreaterThan(200);
    expect(none.every((r) => r.workouts.every((w) => !w.picked) && r.ignored.length === 0)).toBe(true);
    expect(opened.filter((r) => r.workouts.length > 0).length).toBeGreaterThan(0.95 * opened.length);
    // Good rows: some sessions come from them, most are still organic.
    const good = simulate(world, members, (sim, day) => oneRow(world, favourites(world, sim, world.startMs + day * DAY_MS, 10))).flat();
    const workouts = good.flatMap((r) => r.workouts);
    const picked = workouts.filter((w) => w.picked).length;
    expect(picked).toBeGreaterThan(0.05 * workouts.length);
    expect(workouts.length - picked).toBeGreaterThan(picked);
  });

  it('works out within the simulated day, after the picks are served, around the member’s usual hour', () => {
    const { world, members } = setup(13, 300);
    const days = simulate(world, members, (sim, day) => oneRow(world, favourites(world, sim, world.startMs + day * DAY_MS, 10)));
    let near = 0;
    let firsts = 0;
    days.forEach((responses, day) => {
      const dayStart = world.startMs + day * DAY_MS;
      responses.forEach((r, k) => {
        if (r.sessions.length === 0) return expect(r.servedAt).toBeNull();
        for (const w of r.workouts) {
          expect(w.startedAt).toBeGreaterThanOrEqual(r.servedAt!);
          expect(w.startedAt).toBeGreaterThanOrEqual(dayStart);
          expect(w.startedAt).toBeLessThan(dayStart + DAY_MS);
        }
        // A lone session's local hour is near the member's usual one.
        const member = members[k]!.member;
        const zone = TIMEZONES[member.timezone]!.zone;
        const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' }).format(new Date(r.sessions[0]!)));
        const distance = Math.min(Math.abs(hour - member.hour), 24 - Math.abs(hour - member.hour));
        firsts += 1;
        if (distance <= 3 || r.sessions.length > 1) near += 1;
      });
    });
    expect(near / firsts).toBeGreaterThan(0.9);
  });
});
