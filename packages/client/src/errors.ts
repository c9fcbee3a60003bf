/**
 * The SDK's error catalog. Every error the SDK throws is a {@link CachegateError} with a stable `code`.
 *
 * **Match on `err.code`, not on `instanceof`**: when an application ends up with both the ESM and the CJS
 * build of this package (the dual-package hazard), classes from one copy fail `instanceof` checks against
 * the other, while codes always compare equal. Codes are frozen once released; messages may improve.
 *
 * @example
 * try {
 *   await cache.incr('visits');
 * } catch (err) {
 *   if ((err as CachegateError).code === 'CG_ERR_OUTCOME_UNKNOWN') {
 *     // the increment may or may not have been applied: do not blindly repeat it
 *   }
 * }
 */

/** Every code a {@link CachegateError} can carry. */
export type CachegateErrorCode =
  /** The client's options or environment are wrong (missing URL, malformed token...). Fix the deployment. */
  | 'CG_ERR_CONFIG_INVALID'
  /** An operation got an argument it cannot send (e.g. `nx` and `xx` together, a negative ttl). */
  | 'CG_ERR_ARGUMENT_INVALID'
  /** Redis (or the gateway's request validation) refused this one command: `WRONGTYPE`, syntax errors... */
  | 'CG_ERR_COMMAND_FAILED'
  /** 401: the token is missing or not accepted. */
  | 'CG_ERR_AUTH_FAILED'
  /** 403: the token may not run this command (read-only token writing, admin-only command). Nothing ran. */
  | 'CG_ERR_COMMAND_DENIED'
  /** 413: the request body or the number of commands in it is over the gateway's limit. Nothing ran. */
  | 'CG_ERR_REQUEST_TOO_LARGE'
  /** 429: the gateway or a proxy in front of it asked the client to slow down. */
  | 'CG_ERR_RATE_LIMITED'
  /** Any other unexpected HTTP status. */
  | 'CG_ERR_HTTP_STATUS'
  /** The response could not be understood (not JSON, wrong shape, bad base64). */
  | 'CG_ERR_RESPONSE_INVALID'
  /** The service could not be reached, or answered 502/503/504; for the hybrid client, both paths failed. */
  | 'CG_ERR_UNAVAILABLE'
  /** No answer within the timeout. The command may or may not have been applied. */
  | 'CG_ERR_TIMEOUT'
  /**
   * The request may have reached the server but the answer was lost (connection reset, gateway died), and
   * the command is not safe to repeat (INCR, LPUSH...), so it was not re-sent. It may or may not have run.
   */
  | 'CG_ERR_OUTCOME_UNKNOWN'
  /** The caller's AbortSignal fired. */
  | 'CG_ERR_ABORTED'
  /** The client was closed with `close()`. */
  | 'CG_ERR_CLIENT_CLOSED';

/** Base class of every error the SDK throws. `cause` holds the underlying error when there is one. */
export class CachegateError extends Error {
  /** Stable, machine-readable reason. Match on this. */
  readonly code: CachegateErrorCode;

  constructor(code: CachegateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CachegateError';
    this.code = code;
  }
}

/** The client's configuration is invalid (`CG_ERR_CONFIG_INVALID`). Thrown at construction, never later. */
export class CachegateConfigError extends CachegateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CG_ERR_CONFIG_INVALID', message, options);
    this.name = 'CachegateConfigError';
  }
}

/** The gateway answered with an HTTP status the operation cannot succeed with. */
export class CachegateHttpError extends CachegateError {
  /** The HTTP status of the response. */
  readonly status: number;

  constructor(code: CachegateErrorCode, status: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'CachegateHttpError';
    this.status = status;
  }
}

/** Redis refused one command (`CG_ERR_COMMAND_FAILED`); other commands of the same batch are unaffected. */
export class CachegateCommandError extends CachegateError {
  /** The command's name, e.g. `INCR`. */
  readonly command: string;

  constructor(command: string, message: string) {
    super('CG_ERR_COMMAND_FAILED', message);
    this.name = 'CachegateCommandError';
    this.command = command;
  }
}

/** No answer within `timeoutMs` (`CG_ERR_TIMEOUT`). A write may or may not have been applied. */
export class CachegateTimeoutError extends CachegateError {
  /** The timeout that expired, in milliseconds. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number, message = `No answer within ${timeoutMs} ms`) {
    super('CG_ERR_TIMEOUT', message);
    this.name = 'CachegateTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** The service could not be reached or said it is unavailable (`CG_ERR_UNAVAILABLE`). */
export class CachegateUnavailableError extends CachegateError {
  /**
   * False only when the request provably never left this process (connection refused, DNS failure,
   * connect timeout): re-sending any command is then safe. True when it may have reached the server.
   */
  readonly sent: boolean;
  /** The HTTP status (502, 503, 504) when the gateway or a proxy answered; undefined for network failures. */
  readonly status: number | undefined;
  /** The server's `Retry-After`, in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    details: { sent: boolean; status?: number; retryAfterMs?: number; cause?: unknown },
  ) {
    super('CG_ERR_UNAVAILABLE', message, { cause: details.cause });
    this.name = 'CachegateUnavailableError';
    this.sent = details.sent;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/**
 * A command that is not safe to repeat lost its answer after its request may have reached the server
 * (`CG_ERR_OUTCOME_UNKNOWN`). The SDK did not re-send it, so it ran at most once; `cause` says what failed.
 */
export class CachegateOutcomeUnknownError extends CachegateError {
  /** The command's name, e.g. `INCR`. */
  readonly command: string;

  constructor(command: string, cause: unknown) {
    super(
      'CG_ERR_OUTCOME_UNKNOWN',
      `${command} may or may not have been applied: its request may have reached the server but the answer ` +
        `was lost (${(cause as Error)?.message ?? cause}). It was not re-sent because repeating it could apply it twice.`,
      { cause },
    );
    this.name = 'CachegateOutcomeUnknownError';
    this.command = command;
  }
}

/** Builds the `CG_ERR_ARGUMENT_INVALID` error of an operation called with arguments it cannot send. */
export function invalidArgument(message: string): CachegateError {
  return new CachegateError('CG_ERR_ARGUMENT_INVALID', message);
}

/** The `CG_ERR_CLIENT_CLOSED` error of a send after `close()`. */
export function clientClosed(): CachegateError {
  return new CachegateError('CG_ERR_CLIENT_CLOSED', 'The client is closed');
}

/** True when `error` is a CachegateError with one of `codes` (works across duplicate package copies). */
export function hasCode(error: unknown, ...codes: CachegateErrorCode[]): error is CachegateError {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (codes as string[]).includes(code);
}
