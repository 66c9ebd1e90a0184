/**
 * ItemKNN: similarities against hand-computed values and a brute-force dense computation,
 * top-k truncation, the training cut, a 20k × 2k fit, and — on the seed's generative model in
 * memory — that it beats popularity on a next-3-days holdout.
 */
import { describe, expect, it } from 'vitest';
import { ItemKnn, recencyWeights } from '../../model/baselines/item-knn.ts';
import { RankingEvaluator } from '../../model/evaluation/metrics.ts';
import { TopN } from '../../model/data/top-n.ts';
import { Rng } from '../../model/data/rng.ts';
import { OffsetTable, buildCatalogue, buildMember, emptyWorkouts, simulateMember, windowStartMs, type SeedModelOptions } from '../../daily-picks/source/seed-model.ts';
import { historyOf } from '../support/history.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-01T00:00:00Z');


/**
 * Four members, four classes (m3 takes class 0 twice: it still counts once).
 *   m0: 0 1 2     m1: 0 1     m2: 1 2 3 (class 3 on day 10)     m3: 0 0 3
 * n = [3, 3, 2, 2]. Co-occurrence: (0,1) 2 [m0 m1], (0,2) 1 [m0], (0,3) 1 [m3], (1,2) 2 [m0 m2],
 * (1,3) 1 [m2], (2,3) 1 [m2].
 */
const tiny = historyOf([
  [
    [0, T0],
    [1, T0 + DAY],
    [2, T0 + 2 * DAY],
  ],
  [
    [0, T0],
    [1, T0 + DAY],
  ],
  [
    [1, T0],
    [2, T0 + DAY],
    [3, T0 + 10 * DAY],
  ],
  [
    [0, T0],
    [0, T0 + DAY],
    [3, T0 + 2 * DAY],
  ],
]);
const SQRT6 = Math.sqrt(6);

describe('ItemKnn', () => {
  it('cosine with shrinkage, by hand', () => {
    const knn = ItemKnn.fit(tiny, 4, { shrink: 1 });
    expect(Array.from(knn.itemCounts)).toEqual([3, 3, 2, 2]);
    // sim(0,1) = 2 / (√3·√3 + 1) = 2/4 = 0.5
    expect(knn.similarity(0, 1)).toBe(0.5);
    // sim(2,3) = 1 / (√2·√2 + 1) = 1/3
    expect(knn.similarity(2, 3)).toBeCloseTo(1 / 3, 7);
    // sim(1,2) = 2 / (√3·√2 + 1) = 2 / (√6 + 1) = 0.5798…; sim(0,3) = 1 / (√6 + 1) (m3's two 0s count once)
    expect(knn.similarity(1, 2)).toBeCloseTo(2 / (SQRT6 + 1), 7);
    expect(knn.similarity(0, 3)).toBeCloseTo(1 / (SQRT6 + 1), 7);
    // Symmetric before truncation; no class is its own neighbour.
    for (let a = 0; a < 4; a++) {
      expect(Array.from(knn.neighboursOf(a).classes)).not.toContain(a);
      for (let b = 0; b < 4; b++) expect(knn.similarity(a, b)).toBe(knn.similarity(b, a));
    }
    // shrink 0 is plain cosine: 2/3.
    expect(ItemKnn.fit(tiny, 4, { shrink: 0 }).similarity(0, 1)).toBeCloseTo(2 / 3, 7);
  });

  it('keeps the top neighbours per row, best first, ties to the lower class', () => {
    const knn = ItemKnn.fit(tiny, 4, { shrink: 1, neighbours: 2 });
    // Row 0: 1 (0.5), then 2 and 3 tie at 1/(√6+1) = 0.2899 → 2.
    expect(Array.from(knn.neighboursOf(0).classes)).toEqual([1, 2]);
    // Row 2: 1 (0.5798), 3 (0.3333), 0 (0.2899) → [1, 3].
    expect(Array.from(knn.neighboursOf(2).classes)).toEqual([1, 3]);
    // Row 3: 2 (0.3333), then 0 and 1 tie at 0.2899 → 0.
    expect(Array.from(knn.neighboursOf(3).classes)).toEqual([2, 0]);
    expect(knn.similarity(3, 1)).toBe(0);
    const one = ItemKnn.fit(tiny, 4, { shrink: 1, neighbours: 1 });
    expect(Array.from(one.offsets)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(one.neighbours)).toEqual([1, 2, 1, 2]);
    expect(ItemKnn.fit(tiny, 4, { neighbours: 0 }).neighbours.length).toBe(0);
  });

  it('uses only workouts strictly before `before`', () => {
    // m2's class 3 is on day 10: without it, 3 is only m3's, co(2,3) = 0 and n_3 = 1.
    const knn = ItemKnn.fit(tiny, 4, { shrink: 1, before: T0 + 10 * DAY });
    expect(Array.from(knn.itemCounts)).toEqual([3, 3, 2, 1]);
    expect(knn.similarity(2, 3)).toBe(0);
    // sim(0,3) = 1 / (√3·√1 + 1)
    expect(knn.similarity(0, 3)).toBeCloseTo(1 / (Math.sqrt(3) + 1), 7);
    expect(ItemKnn.fit(tiny, 4, { shrink: 1, before: T0 + 10 * DAY + 1 }).similarity(2, 3)).toBeCloseTo(1 / 3, 7);
    expect(ItemKnn.fit(tiny, 4, { before: T0 }).neighbours.length).toBe(0);
  });

  it('scores a member as the weighted sum of neighbour rows', () => {
    const knn = ItemKnn.fit(tiny, 4, { shrink: 1 });
    const out = new Float64Array(4).fill(99);
    knn.score([0, 2], [1, 0.5], out);
    const s = (a: number, b: number) => knn.similarity(a, b);
    expect(out[0]).toBeCloseTo(0.5 * s(2, 0), 12);
    expect(out[1]).toBeCloseTo(s(0, 1) + 0.5 * s(2, 1), 12);
    expect(out[2]).toBeCloseTo(s(0, 2), 12);
    expect(out[3]).toBeCloseTo(s(0, 3) + 0.5 * s(2, 3), 12);
    // 0.5 + 0.5·(2/(√6+1)) = 0.5 + 1/(√6+1)
    expect(out[1]).toBeCloseTo(0.5 + 1 / (SQRT6 + 1), 6);
    knn.score([0, 2], null, out);
    expect(out[1]).toBeCloseTo(s(0, 1) + s(2, 1), 12);
    expect(() => knn.score([0], null, new Float64Array(3))).toThrow(/catalogue of 4/);
  });

  it('matches a brute-force dense computation on random data', () => {
    const rng = new Rng(11);
    const C = 40;
    const members = Array.from({ length: 150 }, () => Array.from({ length: 1 + rng.int(12) }, (_, i): [number, number] => [Math.floor(C * rng.next() ** 2), T0 + i * DAY]));
    const history = historyOf(members);
    const shrink = 3;
    const sets = members.map((w) => new Set(w.map(([c]) => c)));
    const n = new Float64Array(C);
    for (const set of sets) for (const c of set) n[c]! += 1;
    const dense = (a: number, b: number) => {
      let co = 0;
      for (const set of sets) if (a !== b && set.has(a) && set.has(b)) co += 1;
      return co / (Math.sqrt(n[a]!) * Math.sqrt(n[b]!) + shrink);
    };
    const full = ItemKnn.fit(history, C, { shrink, neighbours: C });
    const top5 = ItemKnn.fit(history, C, { shrink, neighbours: 5 });
    for (let a = 0; a < C; a++) {
      const row = Array.from({ length: C }, (_, b) => ({ b, sim: dense(a, b) })).filter((x) => x.sim > 0);
      for (const { b, sim } of row) expect(full.similarity(a, b)).toBeCloseTo(sim, 6);
      expect(full.offsets[a + 1]! - full.offsets[a]!).toBe(row.length);
      row.sort((x, y) => y.sim - x.sim || x.b - y.b);
      expect(Array.from(top5.neighboursOf(a).similarities)).toEqual(row.slice(0, 5).map((x) => Math.fround(x.sim)));
    }
  });

  it('fits 20k members × 2k classes row by row, at most `neighbours` per row', () => {
    const rng = new Rng(7);
    const M = 20_000;
    const C = 2_000;
    const lists: [number, number][][] = [];
    for (let m = 0; m < M; m++) {
      // Taste clusters of 100 classes plus a popularity-skewed tail, 5–60 workouts each.
      const cluster = rng.int(20);
      lists.push(
        Array.from({ length: 5 + rng.int(56) }, (_, i): [number, number] => [
          rng.chance(0.6) ? cluster * 100 + Math.floor(100 * rng.next() ** 2) : Math.floor(C * rng.next() ** 3),
          T0 + i * 3_600_000,
        ]),
      );
    }
    const history = historyOf(lists);
    const started = performance.now();
    const knn = ItemKnn.fit(history, C, { neighbours: 100 });
    const ms = performance.now() - started;
    console.info(`ItemKnn.fit: ${M} members, ${C} classes, ${history.workoutCount} workouts in ${ms.toFixed(0)} ms`);
    expect(knn.offsets.length).toBe(C + 1);
    let longest = 0;
    let unordered = 0;
    for (let a = 0; a < C; a++) {
      const { classes, similarities } = knn.neighboursOf(a);
      longest = Math.max(longest, classes.length);
      for (let i = 1; i < similarities.length; i++) if (similarities[i]! > similarities[i - 1]!) unordered += 1;
    }
    expect(longest).toBe(100);
    expect(unordered).toBe(0);
    expect(knn.neighbours.length).toBe(C * 100);
  });
});

describe('recencyWeights', () => {
  it('halves every half-life; a workout at or after asOf weighs 1', () => {
    const startedAt = [T0 - 60 * DAY, T0 - 30 * DAY, T0, T0 + DAY, T0 - 10 * DAY];
    const w = recencyWeights(startedAt, 0, 4, T0);
    expect(Array.from(w, (x) => Number(x.toFixed(12)))).toEqual([0.25, 0.5, 1, 1]);
    const out = new Float64Array(8);
    const slice = recencyWeights(startedAt, 1, 3, T0, 10, out);
    expect(slice.length).toBe(2);
    expect(out[0]).toBeCloseTo(0.125, 12);
    expect(out[1]).toBe(1);
    expect(recencyWeights(startedAt, 4, 5, T0, 10)[0]).toBeCloseTo(0.5, 12);
  });
});

describe('ItemKnn on the seed model', () => {
  it('beats popularity on the next 3 days (recall@10, nDCG@10)', () => {
    const options: SeedModelOptions = { members: 2000, classes: 400, days: 30, seed: 3, until: new Date('2026-11-28T00:00:00Z') };
    const catalogue = buildCatalogue(options);
    const table = new OffsetTable(windowStartMs(options), options.days);
    const out = emptyWorkouts();
    const ids: string[] = [];
    for (let i = 0; i < options.members; i++) {
      const member = buildMember(options, catalogue, i);
      ids.push(member.id);
      simulateMember(options, catalogue, table, member, out);
    }
    const classIndex = new Map(catalogue.id.map((id, i) => [id, i]));
    const memberIndex = new Map(ids.map((id, i) => [id, i]));
    const perMember: [number, number][][] = ids.map(() => []);
    out.memberId.forEach((id, k) => perMember[memberIndex.get(id)!]!.push([classIndex.get(out.classId[k]!)!, out.startedAt[k]! * 1000]));
    for (const list of perMember) list.sort((a, b) => a[1] - b[1]);
    const history = historyOf(perMember);

    const N = catalogue.count;
    const cut = options.until.getTime() - 3 * DAY;
    const knn = ItemKnn.fit(history, N, { before: cut });
    // Popularity as the seed-model test has it: last week's workouts, all-time as tie-break.
    const trending = new Float64Array(N);
    for (let w = 0; w < history.workoutCount; w++) {
      const t = history.startedAt[w]!;
      if (t < cut) trending[history.classIdx[w]!]! += (t >= cut - 7 * DAY ? 1 : 0) + 1e-3;
    }
    const evaluators = { popularity: new RankingEvaluator(), itemKnn: new RankingEvaluator() };
    const top = new TopN(50, catalogue.airedMs);
    const scores = new Float64Array(N);
    const excluded = new Uint8Array(N);
    for (let m = 0; m < history.memberCount; m++) {
      const { start, end } = history.workoutsOf(m);
      let split = start;
      while (split < end && history.startedAt[split]! < cut) split++;
      if (split === start) continue;
      // Classes already taken, and classes not yet aired at the cut, cannot be recommended.
      for (let c = 0; c < N; c++) excluded[c] = catalogue.airedMs[c]! <= cut ? 0 : 1;
      for (let w = start; w < split; w++) excluded[history.classIdx[w]!] = 1;
      const relevant = new Set<number>();
      for (let w = split; w < end; w++) if (excluded[history.classIdx[w]!] === 0) relevant.add(history.classIdx[w]!);
      if (relevant.size === 0) continue;
      evaluators.popularity.add({ ranked: top.select(trending, excluded), relevant });
      knn.score(history.classIdx.subarray(start, split), recencyWeights(history.startedAt, start, split, cut), scores);
      evaluators.itemKnn.add({ ranked: top.select(scores, excluded), relevant });
    }
    const popularity = evaluators.popularity.result(N);
    const itemKnn = evaluators.itemKnn.result(N);
    const summary = JSON.stringify({ popularity, itemKnn });
    console.info(`seed holdout: ${summary}`);
    expect(itemKnn['members'], summary).toBeGreaterThan(500);
    expect(itemKnn['recall@10']!, summary).toBeGreaterThan(2 * popularity['recall@10']!);
    expect(itemKnn['ndcg@10']!, summary).toBeGreaterThan(2 * popularity['ndcg@10']!);
    expect(itemKnn['coverage@10']!, summary).toBeGreaterThan(popularity['coverage@10']!);
  });
});
