/**
 * `@cachegate/client`: the isomorphic SDK. Uses only fetch, AbortController, TextDecoder and atob, so it
 * runs on Node >= 20, edge runtimes and browsers. No `node:*` import and no Redis driver may enter this
 * entry (a test bundles it for the browser to prove it); the direct-Redis fallback lives in
 * `@cachegate/client/node`.
 * @module
 */
import { Cachegate } from './client.js';
import { createSeedHelpers } from './seed-helpers.js';

export type { GetOrSetOptions } from './cache-aside.js';
export { Cachegate, type CachegateOptions, DEFAULT_MAX_BATCH_SIZE, DEFAULT_TIMEOUT_MS } from './client.js';
export { decodeValue, encodeValue } from './codec.js';
export { CommandClient } from './command-client.js';
export { type Command, type CommandArg, isReadOnly, isSafeToRepeat } from './commands.js';
export { ENV, type EnvSource } from './config.js';
export {
  CachegateCommandError,
  CachegateConfigError,
  CachegateError,
  type CachegateErrorCode,
  CachegateHttpError,
  CachegateOutcomeUnknownError,
  CachegateTimeoutError,
  CachegateUnavailableError,
  type GatewayErrorCode,
  isUnavailable,
} from './errors.js';
export { HttpTransport, type HttpTransportOptions } from './http-transport.js';
export type { SetOptions } from './operations.js';
export { type CallOptions, Pipeline } from './pipeline.js';
export type { RetryOptions } from './retry.js';
export type { SeedHelpers } from './seed-helpers.js';
export type { BatchMode, Outcome, SendOptions, Transport } from './transport.js';
export type { WarmEntry, WarmFailure, WarmOptions, WarmProgress, WarmSource, WarmSummary } from './warm.js';

let defaultClient: Cachegate | undefined;

/** The seed's helpers over one HTTP client built from the environment on first use. */
const seedHelpers = createSeedHelpers(() => {
  defaultClient ??= Cachegate.fromEnv();
  return defaultClient;
});

/**
 * Seed-compatible: the JSON value of `key`, or null when it is missing or the cache is unreachable.
 * Configured from `CACHEGATE_URL`/`CACHEGATE_TOKEN` (or `REDIS_SERVICE_URL`/`REDIS_SERVICE_API_KEY`).
 */
export const getCache = seedHelpers.getCache;
/** Seed-compatible: stores `value` as JSON, for `ttlSeconds` when given; false when the cache is unreachable. */
export const setCache = seedHelpers.setCache;
/** Seed-compatible: deletes `key`; true when it existed. */
export const deleteCache = seedHelpers.deleteCache;
/** Seed-compatible: true when the gateway answers a `PING` with this client's token (see isServiceAvailable). */
export const isServiceAvailable = seedHelpers.isServiceAvailable;
