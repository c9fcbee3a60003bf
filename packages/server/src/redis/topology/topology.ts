import type { EventEmitter } from 'node:events';
import type { Principal } from '../../auth/principal.js';
import type { CommandTable } from '../command-table.js';
import type { RedisFailure } from '../failure.js';
import type { RedisNode } from '../node.js';
import type { Shard } from './shard.js';

/**
 * The one place that knows where Redis's nodes are (decision 0021): standalone (one primary, optional
 * listed replicas), Sentinel (the master and replicas the Sentinels name, followed across failovers) or
 * Cluster (hash slots to shards, each a master and its replicas). It answers "which node runs this
 * command" through its shards (`shardFor(slot).nodeFor(isRead, seen offset, deadline)`); the backend
 * beneath (RoutedBackend) runs pipelines, transactions, fan-out and streams on the nodes it names.
 *
 * Events: `up` once Redis is reachable and prepared, `down` when it is lost, `reconnecting` before each
 * new attempt, `failure` (a RedisFailure) for every failed connection attempt or refused login.
 */
export interface Topology extends EventEmitter {
  /** Cluster: commands route by hash slot, keyless ones Redis tags for every shard fan out, MOVED is followed. */
  readonly isSharded: boolean;
  /** True while some primary is reachable, the command table is loaded and the scope users are in place. */
  readonly isReady: boolean;
  /** While not ready: why, in fixed words (see RedisFailure); undefined while ready or before any attempt. */
  readonly failure: RedisFailure | undefined;
  /** The server's command table; undefined until the first node was prepared. */
  readonly commandTable: CommandTable | undefined;
  /**
   * The shard that serves `slot`; for `undefined` (keyless commands, and every command when not sharded),
   * a shard whose primary is ready, if any.
   * @throws {NotSentError} when no shard serves the slot (a topology still being learned).
   */
  shardFor(slot: number | undefined): Shard;
  /** Every shard, sorted the same way between calls (a Cluster SCAN cursor keeps its meaning). */
  shards(): readonly Shard[];
  /** The node at `host:port`, for a Cluster redirection to a node the slot map does not know yet. */
  nodeAt(address: string): RedisNode;
  /** Redis said MOVED: `slot` is served by the primary at `address` from now on. */
  moved(slot: number, address: string): void;
  /** Sets the token users that every node (replicas included: ACLs are per node) provisions. */
  setTokenUsers(principals: Iterable<Principal>, sharesServer: boolean): void;
  /** Waits for queued replies, then closes every node. */
  close(): Promise<void>;
}

/** What every topology passes on to the nodes it opens. */
export const PREPARING: RedisFailure = {
  kind: 'other',
  reason: 'connected; loading the command table and the Redis users',
};
