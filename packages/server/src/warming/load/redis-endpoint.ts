import { GATEWAY_PRINCIPAL } from '../../auth/principal.js';
import { loadConfig } from '../../config.js';
import type { Logger } from '../../log.js';
import type { RedisBackend } from '../../redis/backend.js';
import { connectRedis } from '../../redis/connect.js';
import type { Command, Reply } from '../../redis/types.js';
import { FatalError } from './items.js';

/** A Redis that `cachegate warm` reads from or writes to, with the gateway's own connections and routing. */
export interface RedisEndpoint {
  /** Runs commands pipelined (routed by key on a Cluster): one reply per command, errors as ErrorReply. */
  run(commands: Command[]): Promise<Reply[]>;
  close(): Promise<void>;
}

/** How long to wait for the first connection before giving up. */
const CONNECT_MS = 10_000;
/** A batch's deadline: DUMP and RESTORE of large keys take a while. */
const BATCH_TIMEOUT_MS = 60_000;
/** Replies as large as Redis makes them (a DUMP of a large key). */
const MAX_REPLY_BYTES = 512 * 1024 * 1024;

const quiet: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

/**
 * Connects to the Redis that `settings` describe, in the gateway's own variables (`CACHEGATE_REDIS_URL`, or
 * `CACHEGATE_REDIS_SENTINELS` with `CACHEGATE_REDIS_SENTINEL_MASTER`, or `CACHEGATE_REDIS_CLUSTER_NODES`,
 * with the passwords and TLS settings), through the gateway's own backends: standalone, Sentinel (the
 * current master, followed through a failover) and Cluster (every command routed by its key, MOVED and ASK
 * followed). It creates no ACL users there.
 * @throws {FatalError} when the settings are invalid or Redis cannot be reached.
 */
export async function openRedis(
  settings: Record<string, string | undefined>,
  describe: string,
): Promise<RedisEndpoint> {
  let backend: RedisBackend;
  try {
    const config = loadConfig({
      ...settings,
      CACHEGATE_SCOPE_USERS: 'off',
      CACHEGATE_COMMAND_TIMEOUT_MS: String(BATCH_TIMEOUT_MS),
      CACHEGATE_MAX_REPLY_BYTES: String(MAX_REPLY_BYTES),
      CACHEGATE_MAX_JSON_DEPTH: '2000',
    });
    backend = connectRedis(config, quiet);
  } catch (error) {
    throw new FatalError(`${describe}: ${(error as Error).message}`);
  }
  const deadline = Date.now() + CONNECT_MS;
  while (!backend.isReady) {
    if (Date.now() > deadline) {
      await backend.close();
      throw new FatalError(`${describe}: could not connect within ${CONNECT_MS / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    run: async (commands) => {
      const table = backend.commandTable;
      const executed = await backend.run({
        principal: GATEWAY_PRINCIPAL,
        commands: commands.map((args) => ({ args, info: table?.lookup(args) })),
        deadline: Date.now() + BATCH_TIMEOUT_MS,
      });
      return executed.replies;
    },
    close: () => backend.close(),
  };
}
