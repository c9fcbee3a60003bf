/**
 * Request headers browsers may send: the Upstash SDK's, the token headers, If-None-Match (conditional GETs)
 * and the telemetry headers.
 */
const ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'X-API-Key',
  'Upstash-Encoding',
  'Upstash-Response-Format',
  'upstash-sync-token',
  'If-None-Match',
  'Upstash-Telemetry-Runtime',
  'Upstash-Telemetry-Platform',
  'Upstash-Telemetry-Sdk',
  'Upstash-Telemetry-Retry',
].join(', ');

/** Response headers scripts may read. */
const EXPOSED_HEADERS = [
  'upstash-sync-token',
  'x-request-id',
  'ETag',
  'Retry-After',
  'Cachegate-Executed',
  'Cachegate-Error-Code',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'RateLimit-Policy',
].join(', ');

/**
 * CORS for the configured origins (`CACHEGATE_CORS_ORIGINS`): preflights are answered before
 * authentication, other responses to an allowed origin say so. Other origins get no CORS headers at all,
 * so browsers keep their pages out.
 */
export class Cors {
  readonly #anyOrigin: boolean;
  readonly #origins: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    this.#anyOrigin = origins.includes('*');
    this.#origins = new Set(origins);
  }

  /** Headers for a response to `origin` (empty when it is not allowed). */
  headersFor(origin: string): string[] {
    if (this.#anyOrigin)
      return ['access-control-allow-origin', '*', 'access-control-expose-headers', EXPOSED_HEADERS];
    if (!this.#origins.has(origin)) return [];
    return [
      'access-control-allow-origin',
      origin,
      'vary',
      'Origin',
      'access-control-expose-headers',
      EXPOSED_HEADERS,
    ];
  }

  /** Headers answering a preflight from `origin`. */
  preflightHeaders(origin: string): string[] {
    const allowed = this.headersFor(origin);
    if (allowed.length === 0) return [];
    return [
      ...allowed.slice(0, 2),
      'vary',
      'Origin',
      'access-control-allow-methods',
      'GET, POST, PUT, DELETE',
      'access-control-allow-headers',
      ALLOWED_HEADERS,
      'access-control-max-age',
      '600',
    ];
  }
}
