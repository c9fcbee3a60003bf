import { isOutage } from './errors.js';

/** What the seed-compatible helpers need from a client. */
export interface SeedHelperClient {
  get<T>(key: string): Promise<T | null>;
  set(key: string, value: unknown, options?: { ttl?: number }): Promise<boolean>;
  del(keys: string | string[]): Promise<number>;
  isServiceAvailable(): Promise<boolean>;
}

/** The four functions the seed's Cloud Functions imported, bound to a lazily created client. */
export interface SeedHelpers {
  /** The cached value, or null when missing or when the cache cannot be reached. */
  getCache<T = unknown>(key: string): Promise<T | null>;
  /** Stores a value (optionally for `ttlSeconds`); false when the cache cannot be reached. */
  setCache(key: string, value: unknown, ttlSeconds?: number): Promise<boolean>;
  /** Deletes a key; true when it existed, false when it did not or the cache cannot be reached. */
  deleteCache(key: string): Promise<boolean>;
  /** True when this function can use the cache now: reachable, ready, and its token accepted. */
  isServiceAvailable(): Promise<boolean>;
}

/**
 * Builds the seed's helpers over `client()`, called on first use so configuration is read from the
 * environment only when the helpers are actually used.
 *
 * The seed treated its cache as optional: a function kept working when the cache was down. So these
 * helpers turn outages (unavailable, including the gateway's 503s, `CG_ERR_TIMEOUT`, `CG_ERR_OUTCOME_UNKNOWN`) into a miss or
 * `false`. Configuration, auth and argument errors still throw: they are mistakes to fix, not outages.
 */
export function createSeedHelpers(client: () => SeedHelperClient): SeedHelpers {
  return {
    getCache: <T>(key: string) => orWhenDown(() => client().get<T>(key), null),
    setCache: (key, value, ttlSeconds) =>
      orWhenDown(() => client().set(key, value, ttlSeconds === undefined ? {} : { ttl: ttlSeconds }), false),
    deleteCache: (key) => orWhenDown(async () => (await client().del(key)) > 0, false),
    isServiceAvailable: () => client().isServiceAvailable(),
  };
}

async function orWhenDown<T, F>(work: () => Promise<T>, fallback: F): Promise<T | F> {
  try {
    return await work();
  } catch (error) {
    if (isOutage(error)) return fallback;
    throw error;
  }
}
