import type { FastifyBaseLogger } from 'fastify';
import { ClusterBackend } from './cluster.js';
import type { CommandTable } from './command-table.js';
import { SentinelBackend } from './sentinel.js';
import { StandaloneBackend } from './standalone.js';
import type { MessageListener, SubscriptionKind, Unsubscribe } from './subscriber.js';
import type { Command, RedisUser, Reply } from './types.js';

export { TransactionAbortedError } from './connection.js';

/** A `host:port` pair of a Sentinel or Cluster node. */
export interface NodeAddress {
  host: string;
  port: number;
}

/** Which Redis to use, from the configuration. Exactly one mode applies. */
export type BackendOptions = {
  /** Used as the connect timeout, so a dead host is noticed as fast as a slow command. */
  commandTimeoutMs: number;
  /** Password of the data nodes, when not in the URL. */
  password?: string | undefined;
  /** PEM CA for TLS connections to Redis. */
  tlsCa?: Buffer | undefined;
  /** Use TLS to Sentinel and Cluster nodes (standalone follows the URL's scheme). */
  tls?: boolean;
  logger: FastifyBaseLogger;
} & (
  | { mode: 'standalone'; url: string }
  | { mode: 'sentinel'; sentinels: NodeAddress[]; masterName: string; sentinelPassword?: string | undefined }
  | { mode: 'cluster'; nodes: NodeAddress[] }
);

/**
 * The gateway's view of Redis, whatever its topology: a few long-lived, auto-pipelined connections, the
 * server's command table, and health. Commands fail at once while a connection is down (no offline queue);
 * reconnection runs in the background.
 */
export interface RedisBackend {
  /** True while Redis is reachable and the command table is loaded. */
  readonly isReady: boolean;
  /** The server's command table; undefined until the first connection succeeded. */
  readonly commandTable: CommandTable | undefined;
  /** Sends one command (routed by its keys in Cluster mode); auto-pipelined with the rest of the tick. */
  send(command: Command, user?: RedisUser): Promise<Reply>;
  /**
   * Runs commands inside MULTI/EXEC, written back to back on one connection so that concurrent transactions
   * never interleave. Resolves with EXEC's replies (failed commands as ErrorReply entries).
   * @throws {TransactionAbortedError} when Redis discarded the transaction, or (Cluster) its keys span slots.
   */
  transaction(commands: Command[], user?: RedisUser): Promise<Reply[]>;
  /**
   * Subscribes to a channel (or pattern) on a pub/sub connection of its own, never the shared one.
   * `onEnd` runs if the subscription ends on the server side (its server was replaced).
   */
  subscribe(
    kind: SubscriptionKind,
    name: string,
    listener: MessageListener,
    onEnd: () => void,
    user?: RedisUser,
  ): Promise<Unsubscribe>;
  /** Round-trips a PING. */
  ping(): Promise<void>;
  /** Waits for queued replies, then closes every connection. */
  close(): Promise<void>;
  /**
   * State changes: `up` once Redis is reachable and the command table is loaded, `down` when it is lost,
   * `reconnecting` before each new attempt.
   */
  on(event: 'up' | 'down' | 'reconnecting', listener: () => void): this;
}

/**
 * Opens the backend for the configured mode. Returns at once: while Redis is unreachable the backend reports
 * not ready and keeps retrying, so the gateway can start (and report unready) before Redis does.
 */
export function connectRedis(options: BackendOptions): RedisBackend {
  const common = {
    commandTimeoutMs: options.commandTimeoutMs,
    password: options.password,
    tlsCa: options.tlsCa,
    logger: options.logger,
  };
  switch (options.mode) {
    case 'standalone':
      return new StandaloneBackend({ ...common, url: options.url });
    case 'sentinel':
      return new SentinelBackend({ ...common, ...options });
    case 'cluster':
      return new ClusterBackend({ ...common, nodes: options.nodes, tls: options.tls ?? false });
  }
}
