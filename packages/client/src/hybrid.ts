import { withTimeout } from './abort.js';
import { DEFAULT_MAX_BATCH_SIZE, DEFAULT_TIMEOUT_MS, gatewayPath, httpOptionsFromEnv } from './client.js';
import { CommandClient } from './command-client.js';
import { checkPositive, checkToken, checkUrl, ENV, type EnvSource, processEnv, readEnv } from './config.js';
import { CachegateConfigError, type CachegateError } from './errors.js';
import { type FallbackTransport, withFallback } from './fallback.js';
import { HttpTransport } from './http-transport.js';
import { RedisTransport } from './redis-transport.js';
import { type RetryOptions, resolveRetry } from './retry.js';

/** The path commands currently take. */
export type ActiveTransport = 'http' | 'redis';

/** Options of {@link createHybridClient}. Every connection setting falls back to the environment. */
export interface HybridClientOptions {
  /** Gateway URL. @default env CACHEGATE_URL, else REDIS_SERVICE_URL */
  url?: string;
  /** Gateway token. @default env CACHEGATE_TOKEN, else REDIS_SERVICE_API_KEY */
  token?: string;
  /** Redis to use directly while the gateway is down. @default env CACHEGATE_REDIS_URL, else REDIS_URL */
  redisUrl?: string;
  /** Password for `redisUrl` when it is not in the URL. @default env CACHEGATE_REDIS_PASSWORD, else REDIS_PASSWORD */
  redisPassword?: string;
  /**
   * While on Redis, how often the gateway is probed (a `PING` with the token), at most, in milliseconds. The probe runs
   * on the first call after the interval (concurrent callers share it), so an idle process sends nothing.
   * @default 60000
   */
  recheckIntervalMs?: number;
  /**
   * Deadline of each attempt in milliseconds: the HTTP attempt with its retries, then, after a gateway
   * failure, the direct attempt (so a call that fails over can take up to twice this). A call can override it.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Retries over HTTP before falling back, by the same rules as `Cachegate`'s: only commands safe to repeat,
   * unless the request provably never left. `false` falls back at the first failure.
   * @default { retries: 2, minDelayMs: 50, maxDelayMs: 1000 }
   */
  retry?: RetryOptions | false;
  /** Most commands in one automatic batch. @default 1000 */
  maxBatchSize?: number;
  /** Called once when the client switches from the gateway to direct Redis, with the failure that caused it. @default undefined */
  onFallback?: (error: CachegateError) => void;
  /** Called once when the gateway is healthy again and the client switches back to it. @default undefined */
  onRecover?: (info: { unavailableForMs: number }) => void;
  /** The fetch implementation. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Where the environment defaults are read from. @default process.env */
  env?: EnvSource;
}

/**
 * Tries the gateway first and falls back to a direct Redis connection when the gateway fails, the way the
 * seed's Cloud Functions did, with one rule the seed lacked: a command that is not safe to repeat (INCR,
 * LPUSH...) is re-sent directly only when its HTTP request provably never left the process; otherwise it
 * fails with `CG_ERR_OUTCOME_UNKNOWN`, so an increment is never applied twice.
 */
export class HybridClient extends CommandClient {
  readonly #paths: FallbackTransport;
  readonly #probeTimeoutMs: number;

  /** @internal Use {@link createHybridClient}. */
  constructor(options: HybridClientOptions = {}) {
    const env = options.env ?? processEnv();
    const timeoutMs = checkPositive(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs');
    const fromEnv = () => httpOptionsFromEnv(env);
    const url = options.url === undefined ? fromEnv().url : checkUrl(options.url, 'url');
    const token = options.token === undefined ? fromEnv().token : checkToken(options.token, 'token');
    const redisUrl = options.redisUrl ?? readEnv(env, ENV.redisUrl);
    if (redisUrl === undefined || !/^rediss?:\/\//.test(redisUrl)) {
      throw new CachegateConfigError(
        `redisUrl (or ${ENV.redisUrl.join(' / ')}) must be a redis:// or rediss:// URL, got ${JSON.stringify(redisUrl ?? null)}`,
      );
    }
    // Connecting to Redis and probing the gateway are quick or hopeless: neither waits the whole timeout.
    const quickMs = Math.min(timeoutMs, 2000);
    const redis = new RedisTransport({
      url: redisUrl,
      password: options.redisPassword ?? readEnv(env, ENV.redisPassword),
      connectTimeoutMs: quickMs,
    });
    const { onRecover } = options;
    const paths = withFallback(
      gatewayPath(new HttpTransport({ url, token, fetch: options.fetch }), resolveRetry(options.retry)),
      withTimeout(redis, (ms) => `Redis did not answer within ${ms} ms`),
      {
        recheckIntervalMs: checkPositive(options.recheckIntervalMs ?? 60_000, 'recheckIntervalMs'),
        probeTimeoutMs: quickMs,
        names: { primary: 'The gateway', secondary: 'direct Redis' },
        onFallback: options.onFallback,
        onRecover: (info) => {
          // Back on the gateway, the direct connection would only hold a Redis client slot: release it.
          void redis.disconnect();
          onRecover?.(info);
        },
      },
    );
    super({
      transport: paths,
      timeoutMs,
      maxBatchSize: checkPositive(options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE, 'maxBatchSize'),
    });
    this.#paths = paths;
    this.#probeTimeoutMs = quickMs;
  }

  /** `'http'` while commands go through the gateway, `'redis'` while they go to Redis directly. */
  get activeTransport(): ActiveTransport {
    return this.#paths.active === 'primary' ? 'http' : 'redis';
  }

  /**
   * Probes the gateway now with a `PING` and the token (sharing a probe already running), and switches back
   * to it when it answers. False while the gateway cannot be used, even when direct Redis can. Never throws.
   */
  override isServiceAvailable(options: { timeoutMs?: number } = {}): Promise<boolean> {
    return super.isServiceAvailable({ timeoutMs: options.timeoutMs ?? this.#probeTimeoutMs });
  }
}

/**
 * Creates the hybrid client: HTTP through the gateway first, direct Redis while the gateway is down.
 * Only for Node (it opens TCP connections); edge code uses `Cachegate` from `@cachegate/client`.
 *
 * @example
 * import { createHybridClient } from '@cachegate/client/node';
 * const cache = createHybridClient({ recheckIntervalMs: 60_000, onFallback: (err) => console.warn(err.message) });
 * const count = await cache.incr('visits');
 * @throws {CachegateConfigError} when the URL, token or Redis URL is missing or malformed.
 */
export function createHybridClient(options: HybridClientOptions = {}): HybridClient {
  return new HybridClient(options);
}
