/** Daily Picks options: defaults, the DAG's options, a run's `conf.dailyPicks` on top, validated. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DAILY_PICKS_OPTIONS, resolveOptions } from '../../daily-picks/options.ts';

describe('resolveOptions', () => {
  it('layers defaults, DAG options and run conf, later layers winning', () => {
    expect(resolveOptions()).toEqual(DEFAULT_DAILY_PICKS_OPTIONS);
    expect(resolveOptions({ rankedSize: 20, rowSize: 5 }, { rowSize: 8 }, undefined, null)).toEqual({ ...DEFAULT_DAILY_PICKS_OPTIONS, rankedSize: 20, rowSize: 8 });
    expect(resolveOptions({ historyWindowDays: 30 }, { historyWindowDays: null }).historyWindowDays).toBeNull();
  });

  it('keeps at least rankedSize candidates', () => {
    expect(resolveOptions({ rankedSize: 500 }).candidateDepth).toBe(500);
    expect(resolveOptions({ rankedSize: 50, candidateDepth: 80 }).candidateDepth).toBe(80);
  });

  it('rejects unknown keys and out-of-range values, naming them', () => {
    expect(() => resolveOptions({ rankedSize: 0 })).toThrow(/invalid Daily Picks options: rankedSize/);
    expect(() => resolveOptions({}, { inactiveDays: 2.5 })).toThrow(/inactiveDays/);
    expect(() => resolveOptions({ rankedsize: 10 })).toThrow(/invalid Daily Picks options/);
    expect(() => resolveOptions('ten')).toThrow(/invalid Daily Picks options/);
  });

  it('merges ignoreAware key by key (a conf may change gamma alone) and validates it', () => {
    expect(resolveOptions().ignoreAware).toEqual({ gamma: 0.5, restDays: 1, cooldownAfter: 3, somethingNewCooldownAfter: 1, windowDays: 7 });
    expect(resolveOptions({ ignoreAware: { gamma: 0.3 } }, { ignoreAware: { windowDays: 3 } }).ignoreAware).toEqual({ gamma: 0.3, restDays: 1, cooldownAfter: 3, somethingNewCooldownAfter: 1, windowDays: 3 });
    expect(DEFAULT_DAILY_PICKS_OPTIONS.ignoreAware.gamma).toBe(0.5);
    expect(() => resolveOptions({ ignoreAware: { gamma: 0 } })).toThrow(/ignoreAware\.gamma/);
    expect(() => resolveOptions({ ignoreAware: { cooldownAfter: 1.5 } })).toThrow(/ignoreAware\.cooldownAfter/);
    expect(() => resolveOptions({ ignoreAware: { restDays: -1 } })).toThrow(/ignoreAware\.restDays/);
    expect(() => resolveOptions({ ignoreAware: { gama: 0.5 } })).toThrow(/invalid Daily Picks options/);
  });
});
