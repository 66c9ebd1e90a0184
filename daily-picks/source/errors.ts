import { FlywheelError } from '../../core/errors.ts';

/** A problem with the input of `seed` / `import` (bad option, bad rows, non-empty tables): exit 2. */
export class SourceInputError extends FlywheelError {
  override readonly name = 'SourceInputError';
  constructor(
    message: string,
    /** Machine-readable details printed with `--json`. */
    readonly details: Record<string, unknown> = {},
  ) {
    super('invalid', message);
  }
}
