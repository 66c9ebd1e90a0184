/** FLYWHEEL_SECRET_KEY: empty means unset (compose files pass `${VAR:-}`); a short key is refused. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../core/config.ts';

describe('FLYWHEEL_SECRET_KEY', () => {
  it('unset or empty: no key (the web server makes a random one and warns)', () => {
    expect(loadConfig({}).secretKey).toBeNull();
    expect(loadConfig({ FLYWHEEL_SECRET_KEY: '' }).secretKey).toBeNull();
  });

  it('32 characters or more: used as given', () => {
    const key = 'k'.repeat(44);
    expect(loadConfig({ FLYWHEEL_SECRET_KEY: key }).secretKey).toBe(key);
  });

  it('too short: a ConfigError naming the variable, without echoing the value', () => {
    let error: unknown;
    try {
      loadConfig({ FLYWHEEL_SECRET_KEY: 'short-secret' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/FLYWHEEL_SECRET_KEY: must be at least 32 characters/);
    expect((error as Error).message).not.toContain('short-secret');
  });
});
