/** Routes a load balancer or Prometheus calls every few seconds: a line each would drown the others. */
const PROBE_ROUTES = new Set(['/livez', '/readyz', '/health', '/metrics']);

/** The level of a request's log line, and its message. */
export interface RequestLine {
  readonly level: 'trace' | 'debug' | 'warn';
  readonly message: string;
}

// Shared: this runs once per request, on the data plane.
const PROBE: RequestLine = { level: 'trace', message: 'request' };
const FAILED: RequestLine = { level: 'warn', message: 'request failed' };
const SLOW: RequestLine = { level: 'warn', message: 'slow request' };
const ORDINARY: RequestLine = { level: 'debug', message: 'request' };

/**
 * Which line a finished request gets (decision 0031): probes `trace`, so never at the levels anyone runs
 * with; other requests `debug`, for an operator who turns them on; a 5xx answer or a request slower than
 * `slowMs` (0: none) `warn`, so that they show at the default `info`. A stream's length is its purpose,
 * never slowness.
 */
export function requestLine(
  route: string,
  status: number,
  durationMs: number,
  slowMs: number,
  isStream: boolean,
): RequestLine {
  if (PROBE_ROUTES.has(route)) return PROBE;
  if (status >= 500) return FAILED;
  if (slowMs > 0 && durationMs >= slowMs && !isStream) return SLOW;
  return ORDINARY;
}
