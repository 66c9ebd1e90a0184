import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config.ts';
import { EXIT_CODE, FlywheelError, HTTP_STATUS, type ErrorKind } from '../../core/errors.ts';
import { ModelRegistryError } from '../../model/registry.ts';

describe('FlywheelError', () => {
  it('derives its HTTP status and CLI exit code from its kind', () => {
    const expected: Record<ErrorKind, number> = {
      invalid: 400,
      unauthorized: 401,
      forbidden: 403,
      not_found: 404,
      conflict: 409,
      unsupported_media_type: 415,
      too_many_requests: 429,
      unavailable: 503,
    };
    for (const [kind, status] of Object.entries(expected) as [ErrorKind, number][]) {
      // A refused request is bad input (2); a server that cannot be reached is a failure (1).
      const exitCode = kind === 'unavailable' ? 1 : 2;
      const error = new FlywheelError(kind, `a ${kind} request`);
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ kind, status, exitCode, message: `a ${kind} request`, name: 'FlywheelError' });
      expect(HTTP_STATUS[kind]).toBe(status);
      expect(EXIT_CODE[kind]).toBe(exitCode);
    }
  });

  it('is the root of the errors other layers name for themselves', () => {
    const registry = new ModelRegistryError('conflict', 'model x is already in production');
    expect(registry).toBeInstanceOf(FlywheelError);
    expect(registry).toMatchObject({ name: 'ModelRegistryError', kind: 'conflict', status: 409 });
    const config = new ConfigError('invalid configuration: PORT: expected number');
    expect(config).toBeInstanceOf(FlywheelError);
    expect(config).toMatchObject({ name: 'ConfigError', kind: 'invalid', exitCode: 2 });
  });
});
