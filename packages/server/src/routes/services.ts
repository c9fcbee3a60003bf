import type { Config } from '../config.js';
import type { CommandExecutor } from '../core/executor.js';
import type { DrainState } from '../http/adapter.js';
import type { GatewayMetrics } from '../metrics.js';
import type { RedisBackend } from '../redis/backend.js';
import type { Databases } from '../redis/databases.js';
import type { Warming } from '../warming/warming.js';
import type { SyncToken } from './upstash/sync-token.js';

/** What route handlers work with; built once by `buildApp`. */
export interface Services {
  readonly config: Config;
  readonly executor: CommandExecutor;
  /** The main Redis. */
  readonly backend: RedisBackend;
  /** The main Redis and the tokens-file databases. */
  readonly databases: Databases;
  readonly metrics: GatewayMetrics;
  readonly syncToken: SyncToken;
  /** Whether the gateway is shutting down, and the streams it ends when it does. */
  readonly drain: DrainState;
  /** The hot set and the warm start (warming/). */
  readonly warming: Warming;
}
