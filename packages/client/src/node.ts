/**
 * `@cachegate/client/node`: everything of the isomorphic entry, plus the direct Redis transport and the
 * hybrid client that falls back to it. Node only.
 * @module
 */
import { Cachegate } from './client.js';
import type { CommandClient } from './command-client.js';
import { ENV, processEnv, readEnv } from './config.js';
import { createHybridClient } from './hybrid.js';
import { createSeedHelpers } from './seed-helpers.js';

export {
  type ActiveTransport,
  createHybridClient,
  HybridClient,
  type HybridClientOptions,
} from './hybrid.js';
export * from './index.js';
export { RedisTransport, type RedisTransportOptions } from './redis-transport.js';

let defaultClient: CommandClient | undefined;

/**
 * The client behind the seed helpers: hybrid when a Redis URL is configured (`CACHEGATE_REDIS_URL` or
 * `REDIS_URL`), HTTP only otherwise.
 */
function defaultFromEnv(): CommandClient {
  defaultClient ??=
    readEnv(processEnv(), ENV.redisUrl) === undefined ? Cachegate.fromEnv() : createHybridClient();
  return defaultClient;
}

const seedHelpers = createSeedHelpers(defaultFromEnv);

/**
 * Seed-compatible: the JSON value of `key`, or null when it is missing or the cache is unreachable.
 * Uses the gateway (`CACHEGATE_URL`/`REDIS_SERVICE_URL`, `CACHEGATE_TOKEN`/`REDIS_SERVICE_API_KEY`) and
 * falls back to `CACHEGATE_REDIS_URL`/`REDIS_URL` while the gateway is down.
 */
export const getCache = seedHelpers.getCache;
/** Seed-compatible: stores `value` as JSON, for `ttlSeconds` when given; false when the cache is unreachable. */
export const setCache = seedHelpers.setCache;
/** Seed-compatible: deletes `key`; true when it existed. */
export const deleteCache = seedHelpers.deleteCache;
/**
 * Seed-compatible: true when the gateway answers a `PING` with this client's token (reachable, ready, token
 * accepted); the hybrid client switches back to the gateway when it does.
 */
export const isServiceAvailable = seedHelpers.isServiceAvailable;

/** Closes the seed helpers' Redis connection, if one was opened; the next helper call starts afresh. */
export async function closeCache(): Promise<void> {
  const client = defaultClient;
  defaultClient = undefined;
  await client?.close();
}
