import { DEFAULT_MAX_BATCH_SIZE, DEFAULT_TIMEOUT_MS, httpOptionsFromEnv } from './client.js';
import { CommandClient } from './command-client.js';
import type { Command } from './commands.js';
import { checkPositive, checkToken, checkUrl, ENV, type EnvSource, processEnv, readEnv } from './config.js';
import { CachegateConfigError, CachegateError, CachegateUnavailableError, hasCode } from './errors.js';
import { HttpTransport } from './http-transport.js';
import { RedisTransport } from './redis-transport.js';
import { deliveryOf, partitionForResend } from './retry.js';
import type { Outcome, SendOptions } from './transport.js';

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
   * While on Redis, how often the gateway's `/health` is probed, at most, in milliseconds. The probe runs
   * on the first call after the interval (concurrent callers share it), so an idle process sends nothing.
   * @default 60000
   */
  recheckIntervalMs?: number;
  /**
   * Deadline of each attempt in milliseconds: the HTTP attempt, then, after a gateway failure, the direct
   * attempt (so a call that fails over can take up to twice this). A call can override it.
   * @default 5000
   */
  timeoutMs?: number;
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
  readonly #http: HttpTransport;
  readonly #redis: RedisTransport;
  readonly #recheckIntervalMs: number;
  readonly #probeTimeoutMs: number;
  readonly #onFallback: HybridClientOptions['onFallback'];
  readonly #onRecover: HybridClientOptions['onRecover'];
  #active: ActiveTransport = 'http';
  #unavailableSince = 0;
  #lastProbeAt = 0;
  #probe: Promise<boolean> | undefined;
  #closed = false;

  /** @internal Use {@link createHybridClient}. */
  constructor(options: HybridClientOptions = {}) {
    const env = options.env ?? processEnv();
    const timeoutMs = checkPositive(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs');
    super({
      timeoutMs,
      maxBatchSize: checkPositive(options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE, 'maxBatchSize'),
    });
    const fromEnv = () => httpOptionsFromEnv(env);
    const url = options.url === undefined ? fromEnv().url : checkUrl(options.url, 'url');
    const token = options.token === undefined ? fromEnv().token : checkToken(options.token, 'token');
    const redisUrl = options.redisUrl ?? readEnv(env, ENV.redisUrl);
    if (redisUrl === undefined || !/^rediss?:\/\//.test(redisUrl)) {
      throw new CachegateConfigError(
        `redisUrl (or ${ENV.redisUrl.join(' / ')}) must be a redis:// or rediss:// URL, got ${JSON.stringify(redisUrl ?? null)}`,
      );
    }
    this.#http = new HttpTransport({ url, token, fetch: options.fetch });
    this.#redis = new RedisTransport({
      url: redisUrl,
      password: options.redisPassword ?? readEnv(env, ENV.redisPassword),
      connectTimeoutMs: Math.min(timeoutMs, 2000),
    });
    this.#recheckIntervalMs = checkPositive(options.recheckIntervalMs ?? 60_000, 'recheckIntervalMs');
    this.#probeTimeoutMs = Math.min(timeoutMs, 2000);
    this.#onFallback = options.onFallback;
    this.#onRecover = options.onRecover;
  }

  /** `'http'` while commands go through the gateway, `'redis'` while they go to Redis directly. */
  get activeTransport(): ActiveTransport {
    return this.#active;
  }

  /**
   * Probes the gateway's `/health` now (sharing a probe already running) and switches back to it when it is
   * healthy. Never throws.
   */
  async isServiceAvailable(): Promise<boolean> {
    return this.#recheck();
  }

  /** Closes the direct Redis connection. Calls after this reject with `CG_ERR_CLIENT_CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#redis.close();
  }

  protected async dispatch(commands: Command[], options: SendOptions): Promise<Outcome[]> {
    if (this.#closed) throw new CachegateError('CG_ERR_CLIENT_CLOSED', 'The client is closed');
    if (this.#active === 'redis' && Date.now() - this.#lastProbeAt >= this.#recheckIntervalMs)
      await this.#recheck();
    if (this.#active === 'redis') return this.#sendDirect(commands, options);
    try {
      return await this.#http.send(commands, options);
    } catch (error) {
      if (!isGatewayFailure(error)) throw error;
      this.#fallBack(error as CachegateError);
      return this.#resendDirect(commands, options, error as CachegateError);
    }
  }

  /** After a gateway failure: re-sends directly what is safe to re-send, settles the rest as unknown. */
  async #resendDirect(
    commands: Command[],
    options: SendOptions,
    failure: CachegateError,
  ): Promise<Outcome[]> {
    const positions = commands.map((_, index) => index);
    const { resend, settled } = partitionForResend(commands, positions, failure, options.mode);
    const outcomes: Outcome[] = new Array(commands.length);
    for (const [index, outcome] of settled) outcomes[index] = outcome;
    if (resend.length > 0) {
      let results: Outcome[];
      try {
        results = await this.#sendDirect(
          resend.map((index) => commands[index] as Command),
          options,
        );
      } catch (error) {
        results = resend.map(() => ({ ok: false, error: error as CachegateError }));
      }
      resend.forEach((index, position) => {
        outcomes[index] = results[position] as Outcome;
      });
    }
    return outcomes;
  }

  async #sendDirect(commands: Command[], options: SendOptions): Promise<Outcome[]> {
    try {
      return await this.#redis.send(commands, options);
    } catch (error) {
      if (!hasCode(error, 'CG_ERR_UNAVAILABLE')) throw error;
      const since = new Date(this.#unavailableSince).toISOString();
      throw new CachegateUnavailableError(
        `The gateway is unavailable (since ${since}) and direct Redis failed too: ${(error as Error).message}`,
        { sent: (error as CachegateUnavailableError).sent ?? true, cause: error },
      );
    }
  }

  #fallBack(error: CachegateError): void {
    if (this.#active === 'redis') return;
    this.#active = 'redis';
    this.#unavailableSince = Date.now();
    this.#lastProbeAt = this.#unavailableSince;
    safely(() => this.#onFallback?.(error));
  }

  /** One `/health` probe at a time; callers arriving meanwhile share its answer. */
  #recheck(): Promise<boolean> {
    this.#probe ??= (async () => {
      try {
        const healthy = await this.#http.isHealthy(this.#probeTimeoutMs);
        if (healthy && this.#active === 'redis') this.#recover();
        return healthy;
      } finally {
        this.#lastProbeAt = Date.now();
        this.#probe = undefined;
      }
    })();
    return this.#probe;
  }

  #recover(): void {
    this.#active = 'http';
    const unavailableForMs = Date.now() - this.#unavailableSince;
    // Back on the gateway, the direct connection would only hold a Redis client slot: release it.
    void this.#redis.disconnect();
    safely(() => this.#onRecover?.({ unavailableForMs }));
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

/** Refused, reset, timed out or 502/503/504: the gateway path is broken. 401/403/429 are not fallbacks. */
function isGatewayFailure(error: unknown): boolean {
  return deliveryOf(error) !== undefined && !hasCode(error, 'CG_ERR_RATE_LIMITED');
}

/** A throwing callback must not break the call that triggered it. */
function safely(callback: () => void): void {
  try {
    callback();
  } catch {
    // The caller's own bug; the SDK has nowhere sensible to report it.
  }
}
