/**
 * When extract (or heuristics) fails there is nothing to cut rows from: filter_rows and publish
 * become upstream_failed without a try (the ranker's fallback does not keep them waiting), and
 * the run fails at once.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.ts';
import { day, PicksWorld } from '../support/picks.ts';

const PICKS_DAGS = fileURLToPath(new URL('../fixtures/dags-picks', import.meta.url));

describe('Daily Picks fails fast without its inputs', { timeout: 120_000 }, () => {
  let harness: Harness;
  let world: PicksWorld;

  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: PICKS_DAGS, workers: { default: 2 } });
    world = await PicksWorld.create({ databaseUrl: harness.config.databaseUrl, prefix: harness.config.queuePrefix });
  });
  afterAll(async () => {
    await world?.close();
    await harness?.close();
  });

  it('a failed extract fails the run; filter_rows and publish are never tried', async () => {
    const run = await harness.trigger('picks_extract_fails', { logicalDate: day('2026-05-01') });
    const finished = await harness.waitForRun(run.dagRunId, { timeoutMs: 60_000 });
    expect(finished.state).toBe('failed');
    // (The fixture's train does not read extract's output; its rank does.)
    expect(await harness.taskStates(run.dagRunId)).toMatchObject({
      extract: 'failed',
      heuristics: 'upstream_failed',
      attribute_conversions: 'upstream_failed',
      rank: 'upstream_failed',
      select_ranking: 'success',
      filter_rows: 'upstream_failed',
      publish: 'upstream_failed',
    });
    expect(await harness.tries(run.dagRunId, 'filter_rows')).toEqual([]);
    const instances = await harness.taskInstances(run.dagRunId);
    expect(instances.find((t) => t.taskId === 'extract')!.error).toMatch(/invalid Daily Picks options: rankedSize/);
  });
});
