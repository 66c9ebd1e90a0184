/**
 * On a seeded platform, every published row is in rank order by score: picks that top up a
 * short row carry the member's own heuristic probability, below the ranked candidates'.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedSource } from '../../daily-picks/source/seed.ts';
import { day, PicksWorld, runSteps, stepContext } from '../support/picks.ts';

const UNTIL = '2026-07-01';

describe('row scores', { timeout: 120_000 }, () => {
  let world: PicksWorld;

  beforeAll(async () => {
    world = await PicksWorld.create();
    await seedSource(world.pool, { members: 300, classes: 200, days: 90, seed: 11, until: day(UNTIL) });
    // A shallow candidate list forces many rows to be topped up.
    await runSteps(world, stepContext('run-scores', { start: day(UNTIL, -1), end: day(UNTIL) }, { candidateDepth: 30, rankedSize: 20, rowSize: 10 }));
  });
  afterAll(async () => {
    await world?.close();
  });

  it('rows were topped up (the case under test happens)', async () => {
    const [topped] = await world.query<{ n: number }>(`select count(*)::int as n from picks where reason like 'Popular%' and model_version = 'heuristics'`);
    expect(topped!.n).toBeGreaterThan(50);
  });

  it('within every row, scores never rise with position', async () => {
    const rises = await world.query<{ member_id: string; row: string; position: number }>(`
      select member_id, row, position from (
        select member_id, row, position, score, lag(score) over (partition by member_id, row order by position) as before from picks
      ) t where before is not null and score > before * (1 + 1e-6)`);
    expect(rises).toEqual([]);
  });

  it('every score is a probability', async () => {
    const [bad] = await world.query<{ n: number }>('select count(*)::int as n from picks where not (score > 0 and score <= 1)');
    expect(bad!.n).toBe(0);
  });
});
