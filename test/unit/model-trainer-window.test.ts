/**
 * trainRanker's per-epoch cap: it trains on the most recent whole days that fit
 * `maxExamplesPerEpoch` (a last day larger than the cap is cut to its most recent workouts), and
 * on everything when the history is smaller. Also its batching, which ignores the calendar (full
 * batches however sparse the days), and its time budget.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../model/backend.ts';
import { Catalogue } from '../../model/data/catalogue.ts';
import { History } from '../../model/data/history.ts';
import { trainRanker } from '../../model/ranker/trainer.ts';
import { syntheticDataset } from '../../daily-picks/source/synthetic-data.ts';

const DAY = 86_400_000;
const UNTIL = new Date('2026-03-01T00:00:00Z');
const data = syntheticDataset({ members: 300, classes: 80, days: 20, seed: 4, until: UNTIL });
const validationFrom = UNTIL.getTime() - 2 * DAY;
const tiny = { shape: { dim: 8, hidden: 8, historyLength: 4 }, epochs: 1, minSteps: 0, batchSize: 256, validationExamples: 64 };

/** Workouts per UTC day before `validationFrom`, oldest first. */
function workoutsPerDay(): number[] {
  const perDay = new Map<number, number>();
  for (const t of data.history.startedAt) if (t < validationFrom) perDay.set(Math.floor(t / DAY), (perDay.get(Math.floor(t / DAY)) ?? 0) + 1);
  return [...perDay.keys()].sort((a, b) => a - b).map((d) => perDay.get(d)!);
}

describe('trainRanker: maxExamplesPerEpoch', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm', log: () => {} });
  });

  it('keeps the most recent whole days that fit the cap', async () => {
    const days = workoutsPerDay();
    const cap = Math.floor(days.reduce((a, b) => a + b, 0) / 3);
    let expected = 0;
    for (let d = days.length - 1; d >= 0 && expected + days[d]! <= cap; d--) expected += days[d]!;
    expect(expected).toBeGreaterThan(0);
    const logs: string[] = [];
    const trained = await trainRanker({ ...data, validationFrom, trainBefore: UNTIL.getTime(), options: { ...tiny, maxExamplesPerEpoch: cap }, log: (m) => logs.push(m) });
    expect(trained.stats.examples).toBe(expected);
    expect(logs.join('\n')).toMatch(/training on the last \d+ of \d+ days/);
    trained.network.dispose();
  });

  it('trains on every day when the history fits', async () => {
    const all = workoutsPerDay().reduce((a, b) => a + b, 0);
    const trained = await trainRanker({ ...data, validationFrom, trainBefore: UNTIL.getTime(), options: { ...tiny, maxExamplesPerEpoch: all } });
    expect(trained.stats.examples).toBe(all);
    trained.network.dispose();
  });

  it('cuts a last day larger than the cap to its most recent workouts', async () => {
    const days = workoutsPerDay();
    const cap = Math.floor(days[days.length - 1]! / 2);
    expect(cap).toBeGreaterThan(0);
    const logs: string[] = [];
    const trained = await trainRanker({ ...data, validationFrom, trainBefore: UNTIL.getTime(), options: { ...tiny, maxExamplesPerEpoch: cap }, log: (m) => logs.push(m) });
    expect(trained.stats.examples).toBe(cap);
    expect(logs.join('\n')).toMatch(/training on the last 1 of \d+ days/);
    trained.network.dispose();
  });
});

describe('trainRanker: batches', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm', log: () => {} });
  });

  /** One workout a day for 300 days (60 members, 20 films without air times): the sparse days of real data. */
  function sparseData() {
    const T0 = Date.parse('2020-01-01T00:00:00Z');
    const classes = 20;
    const catalogue = Catalogue.fromColumns({
      ids: Array.from({ length: classes }, (_, c) => `film${c}`),
      titles: Array.from({ length: classes }, (_, c) => `Film ${c}`),
      disciplineNames: Array.from({ length: classes }, (_, c) => ['Drama', 'Comedy', 'Action'][c % 3]!),
      durations: Array.from({ length: classes }, () => -1),
      instructorIds: Array.from({ length: classes }, () => null),
      instructorNamesByClass: Array.from({ length: classes }, () => null),
      languages: Array.from({ length: classes }, () => null),
      aired: Array.from({ length: classes }, () => Number.NaN),
      encore: Array.from({ length: classes }, () => false),
    });
    const members = 60;
    const perMember: { c: number; t: number }[][] = Array.from({ length: members }, () => []);
    for (let k = 0; k < 300; k++) perMember[k % members]!.push({ c: (k * 7 + Math.floor(k / members)) % classes, t: T0 + k * DAY + 12 * 3_600_000 });
    const offsets = [0];
    for (const list of perMember) offsets.push(offsets[offsets.length - 1]! + list.length);
    const history = History.fromArrays(
      perMember.map((_, m) => `member${m}`),
      Int32Array.from(offsets),
      Int32Array.from(perMember.flat(), (w) => w.c),
      Float64Array.from(perMember.flat(), (w) => w.t),
    );
    return { catalogue, history, validationFrom: T0 + 270 * DAY, trainBefore: T0 + 300 * DAY };
  }

  it('fills every batch however sparse the days: steps per epoch = ⌈examples / batch⌉, not one per day', async () => {
    const sparse = sparseData();
    const trained = await trainRanker({ ...sparse, options: { ...tiny, batchSize: 64, epochs: 2 } });
    try {
      expect(trained.stats.examples).toBe(270);
      expect(trained.stats.validationExamples).toBe(30);
      expect(trained.stats.epochs).toBe(2);
      expect(trained.stats.steps).toBe(5 * 2);
      expect(trained.stats.timeLimited).toBe(false);
      expect(Number.isFinite(trained.stats.trainLoss)).toBe(true);
      expect(Number.isFinite(trained.stats.calibratedNll)).toBe(true);
      expect(trained.stats.examplesPerSec).toBeGreaterThan(0);
    } finally {
      trained.network.dispose();
    }
  });

  it('is deterministic for a seed, shuffle windows included', async () => {
    const sparse = sparseData();
    const once = async () => {
      const trained = await trainRanker({ ...sparse, options: { ...tiny, batchSize: 64, epochs: 1, shuffleWindow: 2 } });
      const weights = [...trained.network.namedWeights()].map(([name, t]) => [name, Array.from(t.dataSync())] as const);
      trained.network.dispose();
      return weights;
    };
    expect(await once()).toEqual(await once());
  });

  it('stops at the time budget: the epoch in progress ends after its step and is the last', async () => {
    const logs: string[] = [];
    const trained = await trainRanker({ ...data, validationFrom, trainBefore: UNTIL.getTime(), options: { ...tiny, epochs: 3, batchSize: 64, maxTrainSeconds: 0 }, log: (m) => logs.push(m) });
    try {
      expect(trained.stats.timeLimited).toBe(true);
      expect(trained.stats.epochs).toBe(1);
      expect(trained.stats.steps).toBe(1);
      expect(trained.stats.bestEpoch).toBe(1);
      expect(Number.isFinite(trained.stats.validationNll)).toBe(true);
      expect(logs.join('\n')).toMatch(/time budget/);
    } finally {
      trained.network.dispose();
    }
  });
});
