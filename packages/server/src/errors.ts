/**
 * The gateway's error catalog. Codes are part of the public contract and frozen once released; messages may
 * improve. Upstash routes show only the message (`{"error": "..."}`), cache routes show code and message.
 */
export const ERRORS = {
  CG_ERR_AUTH_MISSING: { status: 401, message: 'Missing token: send "Authorization: Bearer <token>"' },
  CG_ERR_AUTH_INVALID: { status: 401, message: 'Invalid token' },
  CG_ERR_COMMAND_DENIED: { status: 403, message: 'Command denied' },
  CG_ERR_REQUEST_INVALID: { status: 400, message: 'Invalid request' },
  CG_ERR_BODY_INVALID: { status: 400, message: 'Request body is not valid JSON' },
  CG_ERR_BODY_TOO_LARGE: { status: 413, message: 'Request body is too large' },
  CG_ERR_PIPELINE_TOO_LARGE: { status: 413, message: 'Too many commands in one request' },
  CG_ERR_KEY_INVALID: { status: 400, message: 'Invalid key' },
  CG_ERR_KEY_NOT_FOUND: { status: 404, message: 'Key not found' },
  CG_ERR_ROUTE_NOT_FOUND: { status: 404, message: 'Route not found' },
  CG_ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed' },
  CG_ERR_NOT_ACCEPTABLE: { status: 406, message: 'This route answers only with text/event-stream' },
  CG_ERR_REDIS_ERROR: { status: 400, message: 'Redis returned an error' },
  CG_ERR_TRANSACTION_ABORTED: { status: 400, message: 'Transaction discarded' },
  CG_ERR_REPLY_TOO_LARGE: { status: 400, message: 'The reply is too large to forward' },
  CG_ERR_REDIS_UNAVAILABLE: { status: 503, message: 'Redis is unavailable' },
  CG_ERR_REDIS_TIMEOUT: { status: 503, message: 'Redis did not answer in time' },
  CG_ERR_REPLICATION_INCOMPLETE: { status: 503, message: 'Too few replicas confirmed the write' },
  CG_ERR_RATE_LIMITED: { status: 429, message: 'Rate limit exceeded' },
  CG_ERR_OVERLOADED: { status: 503, message: 'The gateway is overloaded' },
  CG_ERR_MONITOR_LIMIT_REACHED: { status: 503, message: 'Too many MONITOR streams are open' },
  CG_ERR_SHUTTING_DOWN: { status: 503, message: 'The gateway is shutting down; retry on another connection' },
  CG_ERR_INTERNAL: { status: 500, message: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/**
 * Errors after which Redis may have run (some of) the request's commands: the outcome is unknown, or known
 * to have happened. Every other error is raised before anything reached Redis, or (EXECABORT) discarded
 * as a whole, and is answered with `Cachegate-Executed: no` so that clients may safely re-send.
 */
const MAY_HAVE_RUN: ReadonlySet<ErrorCode> = new Set([
  'CG_ERR_REDIS_ERROR',
  'CG_ERR_REPLY_TOO_LARGE',
  'CG_ERR_REDIS_UNAVAILABLE',
  'CG_ERR_REDIS_TIMEOUT',
  'CG_ERR_REPLICATION_INCOMPLETE',
  'CG_ERR_INTERNAL',
]);

/** An error the gateway answers with as it is: a stable code, an HTTP status and a safe message. */
export class GatewayError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'GatewayError';
    this.statusCode = ERRORS[code].status;
    this.retryAfterSeconds = this.statusCode === 503 ? 1 : undefined;
    this.mayHaveRun = MAY_HAVE_RUN.has(code);
    this.allow = undefined;
  }

  /** Seconds a client should wait before retrying (`Retry-After`); set on 429s, 1 s for every 503. */
  retryAfterSeconds: number | undefined;
  /** False when it is certain that no command of the request reached Redis. */
  mayHaveRun: boolean;
  /** For 405: the methods the path does serve (the `Allow` header). */
  allow: string | undefined;
}

/** Shorthand for throwing catalog errors: `throw gatewayError('CG_ERR_KEY_INVALID', 'why')`. */
export function gatewayError(code: ErrorCode, message?: string, cause?: unknown): GatewayError {
  return new GatewayError(code, message, cause === undefined ? undefined : { cause });
}
