/**
 * The seed's generative model, in memory (no database): determinism, shape, and the property
 * the pipeline's story needs — on a next-days holdout, a model that learns from co-occurrence
 * beats the heuristics, and the heuristics beat popularity.
 */
import { describe, expect, it } from 'vitest';
import {
  DISCIPLINES,
  OffsetTable,
  buildCatalogue,
  buildMember,
  emptyWorkouts,
  minimumClasses,
  simulateMember,
  windowStartMs,
  type SeedModelOptions,
  type WorkoutColumns,
} from '../../daily-picks/source/seed-model.ts';
import { Rng, streamSeed } from '../../model/data/rng.ts';

const OPTIONS: SeedModelOptions = { members: 2000, classes: 600, days: 90, seed: 3, until: new Date('2026-11-28T00:00:00Z') };

function generate(options: SeedModelOptions) {
  const catalogue = buildCatalogue(options);
  const offsets = new OffsetTable(windowStartMs(options), options.days);
  const members = [];
  const out = emptyWorkouts();
  for (let i = 0; i < options.members; i += 1) {
    const member = buildMember(options, catalogue, i);
    members.push(member);
    simulateMember(options, catalogue, offsets, member, out);
  }
  return { catalogue, members, out };
}

const data = generate(OPTIONS);

describe('seed model', () => {
  it('is deterministic per seed, and a member’s workouts do not depend on the other members', () => {
    const small = { ...OPTIONS, members: 300 };
    const a = generate(small);
    const b = generate(small);
    expect(b.out).toEqual(a.out);
    expect(b.catalogue.title).toEqual(a.catalogue.title);
    const c = generate({ ...small, seed: 4 });
    expect(c.out.classId).not.toEqual(a.out.classId);
    // Member 299 alone gives the same workouts as member 299 among 300 (per-member random streams).
    const catalogue = buildCatalogue(small);
    const alone: WorkoutColumns = emptyWorkouts();
    simulateMember(small, catalogue, new OffsetTable(windowStartMs(small), small.days), buildMember(small, catalogue, 299), alone);
    const mine = a.out.memberId.flatMap((m, k) => (m === alone.memberId[0] ? [a.out.classId[k]] : []));
    expect(alone.classId).toEqual(mine);
  });

  it('the random source is uniform enough and stream seeds differ', () => {
    const rng = new Rng(1);
    let sum = 0;
    for (let i = 0; i < 10_000; i += 1) sum += rng.next();
    expect(sum / 10_000).toBeGreaterThan(0.48);
    expect(sum / 10_000).toBeLessThan(0.52);
    const seeds = new Set(Array.from({ length: 1000 }, (_, i) => streamSeed(1, 5, i)));
    expect(seeds.size).toBe(1000);
  });

  it('builds a catalogue with every discipline, realistic durations, ~1% encores, new classes every day', () => {
    const { catalogue } = data;
    expect(new Set(catalogue.discipline).size).toBe(DISCIPLINES.length);
    for (let i = 0; i < catalogue.count; i += 1) {
      const discipline = DISCIPLINES[catalogue.discipline[i]!]!;
      expect(discipline.durations).toContain(catalogue.durationMin[i]);
      expect(catalogue.title[i]).toContain(`${catalogue.durationMin[i]} min `);
      expect(catalogue.title[i]).toContain(` with ${catalogue.instructors[catalogue.instructor[i]!]!.firstName}`);
    }
    const encores = catalogue.isEncore.reduce((s, v) => s + v, 0);
    expect(encores).toBeGreaterThanOrEqual(3);
    expect(encores).toBeLessThanOrEqual(12);
    const start = windowStartMs(OPTIONS);
    const days = new Set<number>();
    for (const aired of catalogue.airedMs) if (aired >= start) days.add(Math.floor((aired - start) / 86_400_000));
    expect(days.size).toBe(OPTIONS.days);
    for (const ins of catalogue.instructors) {
      expect(ins.disciplines.length).toBeGreaterThanOrEqual(1);
      expect(ins.disciplines.length).toBeLessThanOrEqual(4);
    }
    expect(new Set(catalogue.instructors.map((i) => i.id)).size).toBe(catalogue.instructors.length);
    expect(minimumClasses(90)).toBeLessThanOrEqual(OPTIONS.classes);
  });

  it('has cold-start members, and inactive ones (last workout 60+ days ago) from --days 61 up', () => {
    const lastWorkout = (out: WorkoutColumns) => {
      const last = new Map<string, number>();
      for (let k = 0; k < out.memberId.length; k += 1) last.set(out.memberId[k]!, Math.max(last.get(out.memberId[k]!) ?? 0, out.startedAt[k]!));
      return last;
    };
    for (const days of [60, 61, 90]) {
      const options = { ...OPTIONS, members: 600, classes: 200, days };
      const { members, out } = generate(options);
      const last = lastWorkout(out);
      const limit = options.until.getTime() / 1000 - 60 * 86_400;
      const inactive = members.filter((m) => m.kind === 'inactive');
      const cold = members.filter((m) => m.kind === 'cold');
      expect(cold.length).toBeGreaterThan(5);
      for (const m of cold) {
        expect(last.has(m.id)).toBe(false);
        expect(m.signupMs).toBeGreaterThanOrEqual(options.until.getTime() - 5 * 86_400_000);
      }
      if (days <= 60) expect(inactive).toEqual([]);
      else {
        expect(inactive.length).toBeGreaterThan(10);
        for (const m of inactive) expect(last.get(m.id)).toBeLessThan(limit);
      }
      for (const m of members.filter((x) => x.kind === 'active').slice(0, 50)) expect(m.signupMs).toBeLessThan(windowStartMs(options));
    }
  });

  it('some members work through a program: an instructor’s series of classes in air order', () => {
    const { catalogue, members, out } = data;
    const index = new Map(catalogue.id.map((id, i) => [id, i]));
    const byMember = new Map<string, number[]>();
    for (let k = 0; k < out.memberId.length; k += 1) {
      const list = byMember.get(out.memberId[k]!) ?? [];
      list.push(index.get(out.classId[k]!)!);
      byMember.set(out.memberId[k]!, list);
    }
    /** Of a member's workouts in a series, how many take a class whose predecessor in the series they took earlier. */
    const successorShare = (m: (typeof members)[number], key: number) => {
      const series = catalogue.series.get(key);
      if (!series) return { next: 0, inSeries: 0 };
      const position = new Map(Array.from(series, (c, i) => [c, i]));
      const taken = new Set<number>();
      let next = 0;
      let inSeries = 0;
      for (const c of byMember.get(m.id) ?? []) {
        const p = position.get(c);
        if (p === undefined || taken.has(p)) continue;
        inSeries += 1;
        if (taken.has(p - 1)) next += 1;
        taken.add(p);
      }
      return { next, inSeries };
    };
    const withProgram = members.filter((m) => m.program >= 0 && m.kind === 'active');
    const others = members.filter((m) => m.program < 0 && m.kind === 'active' && m.favouriteInstructors.length > 0);
    expect(withProgram.length).toBeGreaterThan(members.length * 0.08);
    const sum = (list: typeof members, key: (m: (typeof members)[number]) => number) =>
      list.map((m) => successorShare(m, key(m))).reduce((a, b) => ({ next: a.next + b.next, inSeries: a.inSeries + b.inSeries }), { next: 0, inSeries: 0 });
    const program = sum(withProgram, (m) => m.program);
    const control = sum(others, (m) => {
      const ins = m.favouriteInstructors[0]!;
      return [...catalogue.series.keys()].find((k) => Math.floor(k / 64) === ins) ?? -1;
    });
    expect(program.next / program.inSeries).toBeGreaterThan(0.4);
    expect(program.next / program.inSeries).toBeGreaterThan(3 * (control.next / Math.max(1, control.inSeries)));
  });

  it('a learned model beats the heuristics, which beat popularity (recall@10 on the next 3 days)', () => {
    const { catalogue, members, out } = data;
    const N = catalogue.count;
    const cut = OPTIONS.until.getTime() / 1000 - 3 * 86_400;
    const index = new Map(catalogue.id.map((id, i) => [id, i]));
    const history = new Map<string, { train: number[]; test: number[] }>();
    const pop = new Float64Array(N);
    const recent = new Float64Array(N);
    for (let k = 0; k < out.memberId.length; k += 1) {
      const c = index.get(out.classId[k]!)!;
      const h = history.get(out.memberId[k]!) ?? { train: [], test: [] };
      history.set(out.memberId[k]!, h);
      if (out.startedAt[k]! < cut) {
        h.train.push(c);
        pop[c]! += 1;
        if (out.startedAt[k]! >= cut - 7 * 86_400) recent[c]! += 1;
      } else h.test.push(c);
    }
    // Item-item co-occurrence (cosine-normalised): the simplest model that learns from the data.
    const co = new Float32Array(N * N);
    for (const h of history.values()) {
      const set = [...new Set(h.train)];
      for (const a of set) for (const b of set) if (a !== b) co[a * N + b]! += 1;
    }
    const top10 = (score: (c: number) => number, exclude: Set<number>) => {
      const scored: [number, number][] = [];
      for (let c = 0; c < N; c += 1) if (!exclude.has(c) && catalogue.airedMs[c]! / 1000 <= cut) scored.push([score(c), c]);
      scored.sort((x, y) => y[0] - x[0] || x[1] - y[1]);
      return new Set(scored.slice(0, 10).map(([, c]) => c));
    };
    const recall = { popularity: 0, heuristics: 0, model: 0 };
    let evaluated = 0;
    for (const member of members) {
      const h = history.get(member.id);
      if (!h || h.train.length < 5) continue;
      const taken = new Set(h.train);
      const wanted = h.test.filter((c) => !taken.has(c));
      if (wanted.length === 0) continue;
      const disciplines = new Map<number, number>();
      const durations = new Map<number, number>();
      for (const c of h.train) {
        disciplines.set(catalogue.discipline[c]!, (disciplines.get(catalogue.discipline[c]!) ?? 0) + 1);
        durations.set(catalogue.durationMin[c]!, (durations.get(catalogue.durationMin[c]!) ?? 0) + 1);
      }
      const usualDiscipline = [...disciplines].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
      const usualDuration = [...durations].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
      const trending = (c: number) => recent[c]! + 1e-3 * pop[c]!;
      const history_ = [...taken];
      const picks = {
        popularity: top10(trending, taken),
        // "You often take 30-min Cycling": the usual discipline and duration, most popular first.
        heuristics: top10((c) => (catalogue.discipline[c] === usualDiscipline ? 2e6 : 0) + (catalogue.durationMin[c] === usualDuration ? 1e6 : 0) + trending(c), taken),
        model: top10((c) => {
          let s = 0;
          for (const a of history_) s += co[a * N + c]! / Math.sqrt((pop[a]! + 1) * (pop[c]! + 1));
          return s;
        }, taken),
      };
      for (const key of Object.keys(recall) as (keyof typeof recall)[]) recall[key] += wanted.filter((c) => picks[key].has(c)).length / wanted.length;
      evaluated += 1;
    }
    expect(evaluated).toBeGreaterThan(300);
    const r = { popularity: recall.popularity / evaluated, heuristics: recall.heuristics / evaluated, model: recall.model / evaluated };
    expect(r.heuristics, JSON.stringify(r)).toBeGreaterThan(1.5 * r.popularity);
    expect(r.model, JSON.stringify(r)).toBeGreaterThan(1.15 * r.heuristics);
  });
});
