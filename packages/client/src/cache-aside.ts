import { decodeValue } from './codec.js';
import type { CommandArg } from './commands.js';
import { invalidArgument, isOutage } from './errors.js';
import type { SetOptions } from './operations.js';
import type { CallOptions } from './pipeline.js';

/** Options of `getOrSet`. */
export interface GetOrSetOptions {
  /**
   * Seconds a loaded value counts as fresh (fractions allowed).
   * @default undefined (the value never expires; `staleWhileRevalidate` then has no effect and is refused)
   */
  ttl?: number;
  /**
   * Seconds after `ttl` during which the old value is still served, instantly, while one background call
   * of the loader refreshes it. The key is stored with a Redis TTL of `ttl + staleWhileRevalidate`; the
   * value is stale once its remaining TTL drops to `staleWhileRevalidate` or below (no envelope, no second
   * key, so plain `get` and the gateway's cache API see the value itself). See
   * docs/decisions/0102-stale-while-revalidate-from-ttl.md.
   * @default 0 (no stale serving)
   */
  staleWhileRevalidate?: number;
}

/** What getOrSet needs from a client. */
export interface CacheAsideHost {
  command<T = unknown>(args: readonly CommandArg[], options?: CallOptions): Promise<T>;
  set(key: string, value: unknown, options?: SetOptions & CallOptions): Promise<boolean>;
}

/** One in-flight promise per key: concurrent callers share it instead of starting their own. */
export class SingleFlight {
  readonly #flights = new Map<string, Promise<unknown>>();

  /** True while a flight for `key` runs. */
  has(key: string): boolean {
    return this.#flights.has(key);
  }

  /** Joins the flight for `key`, or starts one with `work`. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const current = this.#flights.get(key);
    if (current !== undefined) return current as Promise<T>;
    const flight = work().finally(() => this.#flights.delete(key));
    this.#flights.set(key, flight);
    return flight;
  }
}

/**
 * Cache-aside with single flight and stale-while-revalidate (see {@link GetOrSetOptions}).
 *
 * Failure policy: the cache helps, it must not take the application down. When reading fails because the
 * cache is unavailable or slow, the loader runs anyway (still once per key); when storing the loaded value
 * fails for those reasons, the value is returned regardless. Other errors (auth, denied) are thrown: they
 * are deployment mistakes that must be seen. A loader's error reaches every waiting caller and nothing is
 * cached. A background refresh that fails leaves the stale value in place; the next stale read retries.
 */
export async function getOrSet<T>(
  host: CacheAsideHost,
  flights: SingleFlight,
  key: string,
  loader: () => T | Promise<T>,
  options: GetOrSetOptions = {},
  call?: CallOptions,
): Promise<T> {
  const { ttl, staleWhileRevalidate = 0 } = options;
  if (staleWhileRevalidate < 0 || !Number.isFinite(staleWhileRevalidate)) {
    throw invalidArgument(`getOrSet: staleWhileRevalidate must be >= 0 seconds, got ${staleWhileRevalidate}`);
  }
  if (staleWhileRevalidate > 0 && ttl === undefined) {
    throw invalidArgument('getOrSet: staleWhileRevalidate needs a ttl');
  }
  const load = async (): Promise<T> => {
    const value = await loader();
    if (value === undefined) {
      throw invalidArgument('getOrSet: the loader returned undefined; return null to cache "no value"');
    }
    const storeFor = ttl === undefined ? {} : { ttl: ttl + staleWhileRevalidate };
    await host.set(key, value, { ...storeFor, ...call }).catch(ignoreWhenCacheDown);
    return value;
  };

  let cached: [string | null, number];
  try {
    // Issued in the same tick, both commands travel in one request.
    cached = await Promise.all([
      host.command<string | null>(['GET', key], call),
      staleWhileRevalidate > 0 ? host.command<number>(['PTTL', key], call) : Promise.resolve(-1),
    ]);
  } catch (error) {
    ignoreWhenCacheDown(error);
    return flights.run(key, load);
  }
  const [raw, remainingMs] = cached;
  if (raw === null) return flights.run(key, load);
  // A string "null" is a cached null, not a miss: only a missing key reads back as a null reply.
  const isStale = staleWhileRevalidate > 0 && remainingMs >= 0 && remainingMs <= staleWhileRevalidate * 1000;
  if (isStale && !flights.has(key)) {
    flights.run(key, load).catch(() => {});
  }
  return decodeValue<T>(raw);
}

function ignoreWhenCacheDown(error: unknown): void {
  if (!isOutage(error)) throw error;
}
