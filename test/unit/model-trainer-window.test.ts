/**
 * trainRanker's per-epoch cap: it trains on the most recent whole days that fit
 * `maxExamplesPerEpoch`, and on everything when the history is smaller.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../model/backend.ts';
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
});
