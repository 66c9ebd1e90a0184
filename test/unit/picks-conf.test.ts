/** The daily_picks DAG refuses a manual run whose conf.dailyPicks is not valid options. */
import { describe, expect, it } from 'vitest';
import dailyPicks from '../../dags/daily_picks.ts';

describe('daily_picks validateConf', () => {
  it('accepts no dailyPicks, or valid options', () => {
    expect(dailyPicks.validateConf).not.toBeNull();
    expect(() => dailyPicks.validateConf!({})).not.toThrow();
    expect(() => dailyPicks.validateConf!({ other: 1, dailyPicks: { rankedSize: 50, historyWindowDays: null } })).not.toThrow();
  });

  it('refuses bad values and unknown keys, naming them', () => {
    expect(() => dailyPicks.validateConf!({ dailyPicks: { rankedSize: 'x' } })).toThrow(/rankedSize/);
    expect(() => dailyPicks.validateConf!({ dailyPicks: { rankedSize: 0 } })).toThrow(/rankedSize/);
    expect(() => dailyPicks.validateConf!({ dailyPicks: { rankSize: 5 } })).toThrow(/rankSize|Unrecognized/i);
    expect(() => dailyPicks.validateConf!({ dailyPicks: 7 })).toThrow(/invalid Daily Picks options/);
  });
});
