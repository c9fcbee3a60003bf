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

/**
 * The gateway's error answers, with their HTTP status: the same catalog the gateway answers from (one
 * vocabulary, listed with every meaning in docs/api.md). The SDK reports an error answer under the code the
 * gateway sent (`Cachegate-Error-Code`); from a server that sends none (Upstash, a proxy) it infers the code
 * from the status.
 */
export const GATEWAY_ERRORS = {
  CG_ERR_AUTH_MISSING: 401,
  CG_ERR_AUTH_INVALID: 401,
  CG_ERR_COMMAND_DENIED: 403,
  CG_ERR_REQUEST_INVALID: 400,
  CG_ERR_BODY_INVALID: 400,
  CG_ERR_BODY_TOO_LARGE: 413,
  CG_ERR_PIPELINE_TOO_LARGE: 413,
  CG_ERR_KEY_INVALID: 400,
  CG_ERR_KEY_NOT_FOUND: 404,
  CG_ERR_ROUTE_NOT_FOUND: 404,
  CG_ERR_METHOD_NOT_ALLOWED: 405,
  CG_ERR_NOT_ACCEPTABLE: 406,
  CG_ERR_REDIS_ERROR: 400,
  CG_ERR_TRANSACTION_ABORTED: 400,
  CG_ERR_REPLY_TOO_LARGE: 400,
  CG_ERR_REDIS_UNAVAILABLE: 503,
  CG_ERR_REDIS_TIMEOUT: 503,
  CG_ERR_REPLICATION_INCOMPLETE: 503,
  CG_ERR_RATE_LIMITED: 429,
  CG_ERR_OVERLOADED: 503,
  CG_ERR_MONITOR_LIMIT_REACHED: 503,
  CG_ERR_SHUTTING_DOWN: 503,
  CG_ERR_INTERNAL: 500,
} as const;

/** Codes only the SDK raises: failures on its own side of the wire, which no gateway answer carries. */
export const SDK_ERROR_CODES = [
  /** The client's options or environment are wrong (missing URL, malformed token...). */
  'CG_ERR_CONFIG_INVALID',
  /** An operation got an argument it cannot send (e.g. `nx` and `xx` together, a negative ttl). */
  'CG_ERR_ARGUMENT_INVALID',
  /** An HTTP status without a code the SDK knows. */
  'CG_ERR_HTTP_STATUS',
  /** The response could not be understood (not JSON, wrong shape, bad base64). */
  'CG_ERR_RESPONSE_INVALID',
  /** The service could not be reached, or a proxy answered 502/503/504; for the hybrid, both paths failed. */
  'CG_ERR_UNAVAILABLE',
  /** No answer within the call's deadline. The command may or may not have been applied. */
  'CG_ERR_TIMEOUT',
  /** A command that is not safe to repeat lost its answer after its request may have reached the server. */
  'CG_ERR_OUTCOME_UNKNOWN',
  /** The caller's AbortSignal fired. */
  'CG_ERR_ABORTED',
  /** The client was closed with `close()`. */
  'CG_ERR_CLIENT_CLOSED',
] as const;

/** A code of the gateway's catalog. */
export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

/** Every code a {@link CachegateError} can carry: the gateway's, and the SDK's own. */
export type CachegateErrorCode = GatewayErrorCode | (typeof SDK_ERROR_CODES)[number];

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
  /** The server's `Retry-After`, in milliseconds, when it sent one (429). */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: CachegateErrorCode,
    status: number,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number | undefined },
  ) {
    super(code, message, options);
    this.name = 'CachegateHttpError';
    this.status = status;
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * Redis refused one command (`CG_ERR_REDIS_ERROR`), or the gateway refused it as a request (a `400` such as
 * `CG_ERR_REQUEST_INVALID`, or `CG_ERR_TRANSACTION_ABORTED` for every command of a discarded transaction).
 * Other commands of the same batch are unaffected.
 */
export class CachegateCommandError extends CachegateError {
  /** The command's name, e.g. `INCR`. */
  readonly command: string;

  constructor(command: string, message: string, code: CachegateErrorCode = 'CG_ERR_REDIS_ERROR') {
    super(code, message);
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

/**
 * The service could not be reached (`CG_ERR_UNAVAILABLE`), or answered 502/503/504: under the gateway's
 * code when it sent one (`CG_ERR_REDIS_UNAVAILABLE`, `CG_ERR_OVERLOADED`...). See {@link isUnavailable}.
 */
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
    details: {
      sent: boolean;
      status?: number;
      retryAfterMs?: number;
      code?: CachegateErrorCode;
      cause?: unknown;
    },
  ) {
    super(details.code ?? 'CG_ERR_UNAVAILABLE', message, { cause: details.cause });
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

/**
 * True when the service could not serve the request now: it was unreachable (`CG_ERR_UNAVAILABLE`) or the
 * gateway answered 503 under its own code (`CG_ERR_REDIS_UNAVAILABLE`, `CG_ERR_REDIS_TIMEOUT`,
 * `CG_ERR_OVERLOADED`, `CG_ERR_SHUTTING_DOWN`...). Works across duplicate package copies.
 */
export function isUnavailable(error: unknown): error is CachegateUnavailableError {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'CG_ERR_UNAVAILABLE' || GATEWAY_ERRORS[code as GatewayErrorCode] === 503;
}

/** An outage as a caller that treats the cache as optional sees it: unavailable, timed out, or unknown. */
export function isOutage(error: unknown): boolean {
  return isUnavailable(error) || hasCode(error, 'CG_ERR_TIMEOUT', 'CG_ERR_OUTCOME_UNKNOWN');
}

/** The gateway's code in an error answer's `Cachegate-Error-Code`, when it is one this SDK knows. */
export function gatewayCode(value: string | null): GatewayErrorCode | undefined {
  return value !== null && Object.hasOwn(GATEWAY_ERRORS, value) ? (value as GatewayErrorCode) : undefined;
}

/** True when `error` is a CachegateError with one of `codes` (works across duplicate package copies). */
export function hasCode(error: unknown, ...codes: CachegateErrorCode[]): error is CachegateError {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (codes as string[]).includes(code);
}
