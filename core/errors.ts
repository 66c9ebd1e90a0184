/**
 * The one error type a user sees: a request that names something that does not exist, breaks a
 * rule or cannot be done now, or a server it needs that cannot be reached. Every layer throws it
 * as it is; nothing translates it, except the CLI, which turns a PostgreSQL or Redis connection
 * error into one (core/service-errors.ts). The web API answers it with `HTTP_STATUS[kind]` and
 * `{ error: publicMessage }` (web/http.ts), the CLI prints `error: message` and exits with
 * `EXIT_CODE[kind]` (cli/cli.ts). Anything else is a bug: a 500 that says nothing inside, or exit
 * 1 with the stack.
 */

/** Why a request was refused. */
export type ErrorKind =
  /** Bad input: a malformed value, a rule it breaks. */
  | 'invalid'
  /** No credentials, or credentials that are not valid. */
  | 'unauthorized'
  /** Valid credentials without the right (role, CSRF token). */
  | 'forbidden'
  /** It names something that does not exist. */
  | 'not_found'
  /** It cannot be done in the current state (it exists already, it changed meanwhile). */
  | 'conflict'
  /** A body that is not JSON. */
  | 'unsupported_media_type'
  /** Too many attempts; wait and try again. */
  | 'too_many_requests'
  /**
   * A server it needs (PostgreSQL, Redis) cannot be reached, refuses it, or lacks the database it
   * names: nothing is wrong with the request itself, the environment has to be fixed.
   */
  | 'unavailable';

/** The HTTP status of each kind: the one place it is decided. */
export const HTTP_STATUS = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unsupported_media_type: 415,
  too_many_requests: 429,
  unavailable: 503,
} as const satisfies Record<ErrorKind, number>;

/**
 * The CLI exit code of each kind: the one place it is decided. A refused request is bad input,
 * exit 2; `unavailable` is a failure of the command (the environment, not its input), exit 1, as
 * any other failure.
 */
export const EXIT_CODE = {
  invalid: 2,
  unauthorized: 2,
  forbidden: 2,
  not_found: 2,
  conflict: 2,
  unsupported_media_type: 2,
  too_many_requests: 2,
  unavailable: 1,
} as const satisfies Record<ErrorKind, number>;

/** A refused request; the message says why and is shown to the user as it is. */
export class FlywheelError extends Error {
  override readonly name: string = 'FlywheelError';
  /**
   * The message for a caller on another machine (the web API's `{ error }`): `message` unless the
   * thrower gave one without what only the server's operator should see, such as its file paths
   * (the CLI runs on the operator's own machine and prints `message`).
   */
  readonly publicMessage: string;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options: { publicMessage?: string; cause?: unknown } = {},
  ) {
    // The cause (a connection error it explains) is for debugging: the CLI prints its stack at
    // FLYWHEEL_LOG_LEVEL=debug, never by default.
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.publicMessage = options.publicMessage ?? message;
  }

  /** The HTTP status the web API answers with. */
  get status(): (typeof HTTP_STATUS)[ErrorKind] {
    return HTTP_STATUS[this.kind];
  }

  /** The exit code of a CLI command that fails with it. */
  get exitCode(): number {
    return EXIT_CODE[this.kind];
  }
}
