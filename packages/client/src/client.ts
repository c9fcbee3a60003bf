import { withTimeout } from './abort.js';
import { CommandClient } from './command-client.js';
import { checkPositive, checkToken, checkUrl, ENV, type EnvSource, processEnv, readEnv } from './config.js';
import { HttpTransport } from './http-transport.js';
import { type RetryOptions, type RetryPolicy, resolveRetry, withRetry } from './retry.js';
import type { Transport } from './transport.js';

/** Default deadline of a call. */
export const DEFAULT_TIMEOUT_MS = 5000;
/** Default size cap of automatic batches: the gateway's default CACHEGATE_MAX_PIPELINE. */
export const DEFAULT_MAX_BATCH_SIZE = 1000;

/** Options of {@link Cachegate}. */
export interface CachegateOptions {
  /** Base URL of the gateway, e.g. `https://cache.example.com` (an Upstash REST URL works too). Required. */
  url: string;
  /** The gateway token, sent as `Authorization: Bearer <token>`. Required. */
  token: string;
  /**
   * Deadline of each call in milliseconds, retries included; a call can override it.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Retries of failed requests, with jittered exponential backoff, within the call's deadline. Only
   * commands that are safe to repeat (reads, idempotent writes) are re-sent, unless the request provably
   * never left the process. `false` disables retries.
   * @default { retries: 2, minDelayMs: 50, maxDelayMs: 1000 }
   */
  retry?: RetryOptions | false;
  /**
   * Most commands in one automatic batch; larger batches are split. Keep it at or below the gateway's
   * CACHEGATE_MAX_PIPELINE.
   * @default 1000
   */
  maxBatchSize?: number;
  /** The fetch implementation, e.g. to add instrumentation. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/**
 * The isomorphic client: HTTP only (fetch), for Node >= 20, edge runtimes and browsers. Speaks the
 * Upstash Redis REST protocol, so it works against cachegate and against Upstash itself.
 *
 * @example
 * import { Cachegate } from '@cachegate/client';
 * const cache = new Cachegate({ url: 'https://cache.example.com', token: process.env.CACHEGATE_TOKEN! });
 * await cache.set('greeting', { hello: 'world' }, { ttl: 60 });
 * const greeting = await cache.get<{ hello: string }>('greeting');
 */
export class Cachegate extends CommandClient {
  /** The gateway URL in use, without a trailing slash. */
  readonly url: string;

  /** @throws {CachegateConfigError} for a missing or malformed URL or token, or invalid numbers. */
  constructor(options: CachegateOptions) {
    const url = checkUrl(options.url, 'url');
    const http = new HttpTransport({ url, token: checkToken(options.token, 'token'), fetch: options.fetch });
    super({
      transport: gatewayPath(http, resolveRetry(options.retry)),
      timeoutMs: checkPositive(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs'),
      maxBatchSize: checkPositive(options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE, 'maxBatchSize'),
    });
    this.url = url;
  }

  /**
   * Builds a client from the environment: `CACHEGATE_URL` (alias `REDIS_SERVICE_URL`) and `CACHEGATE_TOKEN`
   * (alias `REDIS_SERVICE_API_KEY`); when neither URL is set, `UPSTASH_REDIS_REST_URL` with
   * `UPSTASH_REDIS_REST_TOKEN`, then `KV_REST_API_URL` with `KV_REST_API_TOKEN`, each pair read together.
   * Pass `env` on runtimes without `process.env` (e.g. Workers bindings).
   * @throws {CachegateConfigError} naming the variable that is missing or malformed.
   */
  static fromEnv(overrides: Partial<CachegateOptions> = {}, env: EnvSource = processEnv()): Cachegate {
    return new Cachegate({ ...httpOptionsFromEnv(env), ...overrides });
  }
}

/** The gateway as both clients reach it: retried where safe, within the call's deadline. */
export function gatewayPath(http: HttpTransport, retry: RetryPolicy): Transport {
  return withTimeout(
    withRetry(http, retry),
    (ms) => `The gateway at ${http.url} did not answer within ${ms} ms`,
  );
}

/**
 * The URL and token from the environment, with messages that name the variables: ours (or the seed's), else
 * the first of {@link ENV.fallbacks} whose URL is set, with the token of that same pair, so that a token is
 * never sent to another service's URL.
 */
export function httpOptionsFromEnv(env: EnvSource): { url: string; token: string } {
  const names = ([first, ...rest]: readonly string[]) => `${first} (or ${rest.join(', ')})`;
  if (readEnv(env, ENV.url) === undefined) {
    const pair = ENV.fallbacks.find(({ url }) => readEnv(env, [url]) !== undefined);
    if (pair !== undefined) {
      return {
        url: checkUrl(readEnv(env, [pair.url]), pair.url),
        token: checkToken(readEnv(env, [pair.token]), pair.token),
      };
    }
  }
  return {
    url: checkUrl(readEnv(env, ENV.url), names([...ENV.url, ...ENV.fallbacks.map(({ url }) => url)])),
    token: checkToken(readEnv(env, ENV.token), names(ENV.token)),
  };
}
