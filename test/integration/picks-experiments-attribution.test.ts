/**
 * `attribute_conversions` in the daily run: it runs after extract, and when it fails (here the
 * feedback retention function is missing) the run still publishes — select_ranking waits for it
 * whatever its state, so filter_rows goes ahead with the conversions attributed so far — and the
 * failure shows in the task's state and select_ranking's log.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSource } from '../../daily-picks/source/seed.ts';
import { Harness } from '../support/harness.ts';
import { day, PicksWorld } from '../support/picks.ts';

const PICKS_DAGS = fileURLToPath(new URL('../fixtures/dags-picks', import.meta.url));
const UNTIL = day('2026-05-01');

describe('attribute_conversions never holds up the picks', { timeout: 120_000 }, () => {
  let harness: Harness;
  let world: PicksWorld;

  beforeAll(async () => {
    harness = await Harness.start({ dagsFolder: PICKS_DAGS, workers: { default: 3 } });
    world = await PicksWorld.create({ databaseUrl: harness.config.databaseUrl, prefix: harness.config.queuePrefix });
    await seedSource(world.pool, { members: 80, classes: 60, days: 20, seed: 2, until: UNTIL });
  });
  afterAll(async () => {
    await world?.close();
    await harness?.close();
  });

  it('runs after extract; when it fails the rows are still cut and published', async () => {
    const ok = await harness.trigger('picks_with_model', { logicalDate: UNTIL });
    expect((await harness.waitForRun(ok.dagRunId, { timeoutMs: 90_000 })).state).toBe('success');
    expect((await harness.taskStates(ok.dagRunId)).attribute_conversions).toBe('success');
    const output = (await harness.taskInstances(ok.dagRunId)).find((t) => t.taskId === 'attribute_conversions')!.output as { clock: string; conversions: number; retentionDays: number };
    expect(output).toMatchObject({ clock: UNTIL.toISOString(), conversions: 0, retentionDays: 90 });

    await world.query('alter function feedback.drop_partitions_before(date) rename to drop_partitions_before_gone');
    try {
      const run = await harness.trigger('picks_with_model', { logicalDate: day('2026-05-02') });
      const finished = await harness.waitForRun(run.dagRunId, { timeoutMs: 90_000 });
      expect(await harness.taskStates(run.dagRunId)).toMatchObject({ attribute_conversions: 'failed', select_ranking: 'success', filter_rows: 'success', publish: 'success' });
      expect(finished.state).toBe('success');
      const log = (await harness.logs(run.dagRunId, 'select_ranking', 1)).map((l) => l.message).join('\n');
      expect(log).toMatch(/attribute_conversions did not succeed/);
    } finally {
      await world.query('alter function feedback.drop_partitions_before_gone(date) rename to drop_partitions_before');
    }
  });
});
