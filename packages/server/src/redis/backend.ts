import type { AnswerReservation } from '../answer-budget.js';
import { GATEWAY_PRINCIPAL, type Principal } from '../auth/principal.js';
import type { CommandInfo, CommandTable } from './command-table.js';
import type { RedisFailure } from './failure.js';
import type { MonitorStream, StopMonitor } from './monitor.js';
import type { NearCache } from './near-cache.js';
import type { Subscription, Unsubscribe } from './subscriber.js';
import type { SyncPoint } from './sync-point.js';
import type { NodeStatus } from './topology/shard.js';
import type { Command, Reply, ReplyForm } from './types.js';

/** A `host:port` pair of a Sentinel, Cluster node or listed replica. */
export interface NodeAddress {
  host: string;
  port: number;
}

/** A command the executor has checked, with the server's entry for it (undefined: unknown to the server). */
export interface PlannedCommand {
  readonly args: Command;
  readonly info: CommandInfo | undefined;
}

/** What the executor hands a backend: checked commands, whose they are, and when they must be answered. */
export interface Batch {
  readonly principal: Principal;
  readonly commands: readonly PlannedCommand[];
  /** Absolute `Date.now()` time by which every reply must be in. */
  readonly deadline: number;
  /** Pipelined, or inside MULTI/EXEC written as one block. @default 'pipeline' */
  readonly mode?: 'pipeline' | 'transaction';
  /** How the replies come back. @default 'bytes' */
  readonly form?: ReplyForm;
  /** Where the replies' memory is counted: the request's share of the AnswerBudget. @default none */
  readonly reservation?: AnswerReservation | undefined;
  /**
   * What the caller has seen (its sync token): a read-only batch goes to a replica only once that replica
   * applied it. @default nothing: any replica in bounds may answer
   */
  readonly seen?: SyncPoint | undefined;
}

/** What a batch produced. */
export interface Executed {
  /** One reply per command, in order, Redis errors as ErrorReply entries. */
  readonly replies: Reply[];
  /**
   * When the batch may have written and replicas are read from: what its caller has seen once it ran, its
   * `seen` with how far each written shard's replication stream had got (the next sync token). A replica
   * that applied it shows the batch's writes.
   */
  readonly reached?: SyncPoint | undefined;
}

/**
 * The gateway's view of one Redis, whatever its topology (standalone, Sentinel, Cluster; with or without
 * replicas): a few long-lived, pipelined connections per node, the server's command table, and health.
 * Batches fail at once while a connection is down (no offline queue) and at their deadline when Redis is
 * slow; reconnection runs in the background. Failures are the error classes of connection.ts, which say
 * whether anything may have run. Implemented once, by RoutedBackend over a Topology; a tokens-file
 * database wraps one to open it lazily.
 */
export interface RedisBackend {
  /** True while Redis is reachable, the command table is loaded and the scope users are in place. */
  readonly isReady: boolean;
  /** The server's command table; undefined until the first connection succeeded. */
  readonly commandTable: CommandTable | undefined;
  /**
   * While not ready: why, in fixed words safe for the public `/health` (see RedisFailure), when a connection
   * attempt failed. Undefined while ready, and before the first attempt ended.
   */
  readonly failure: RedisFailure | undefined;
  /**
   * Runs a batch on the node the topology names for it (Cluster: each command on its slot's shard):
   * pipelined, or in MULTI/EXEC written as one block so that concurrent transactions never interleave.
   * Read-only batches may go to a replica that has applied `batch.seen`; everything else goes to primaries.
   * Rejects only when the batch failed as a whole.
   * @throws {TransactionAbortedError} when Redis discarded a transaction, or (Cluster) its keys span slots.
   */
  run(batch: Batch): Promise<Executed>;
  /**
   * Subscribes to a channel (or pattern) on a pub/sub connection of its own, never a command connection,
   * logged in as `principal`'s Redis user, on a primary.
   */
  subscribe(principal: Principal, subscription: Subscription): Promise<Unsubscribe>;
  /**
   * Streams MONITOR output on a connection of its own per stream (never a shared one), logged in as
   * `principal`'s Redis user; resolves once Redis confirmed by `deadline`. Every primary is monitored
   * (Cluster: merged into one stream). `onEnd` runs when the stream ends on the server side (a lost
   * connection, a failover, the backend closing).
   * @throws {ErrorReply} when Redis refused MONITOR (NOPERM for an ACL user).
   */
  monitor(principal: Principal, stream: MonitorStream, deadline: number): Promise<StopMonitor>;
  /**
   * The near cache of the primary a cacheable read's keys live on, when the near cache is on and has heard
   * of every write the caller has `seen`.
   */
  nearCacheFor(command: PlannedCommand, seen?: SyncPoint): NearCache | undefined;
  /** Every node, by role, for health and metrics (and the primaries' near caches). */
  nodes(): NodeStatus[];
  /** True when Redis cannot hold `principal`'s scripts to its scope (see ScopeUsers): they need admin. */
  scriptsNeedAdmin(principal: Principal): boolean;
  /**
   * The principals whose commands run here, for their Redis users' scoped copies (at start and on SIGHUP),
   * and whether another database the gateway serves lives on the same server (see ScopeUsers).
   */
  setTokenUsers(principals: Iterable<Principal>, sharesServer?: boolean): void;
  /** Waits for queued replies, then closes every connection. */
  close(): Promise<void>;
  /**
   * State changes: `up` once Redis is reachable and prepared, `down` when it is lost, `reconnecting` before
   * each new attempt.
   */
  on(event: 'up' | 'down' | 'reconnecting', listener: () => void): this;
  /**
   * Every failed connection attempt or refused login, on any of its primaries' main connections (and the
   * Sentinels'; a tokens-file database does not repeat its backend's).
   */
  on(event: 'failure', listener: (failure: RedisFailure) => void): this;
}

/**
 * Opens a stream (a subscription, a MONITOR) that holds something while it is open, and runs `release` once
 * it ends, whichever way: on the server's side (before `onEnd`), by the stop function it resolves with, or
 * because opening failed.
 */
export async function openHolding<Stop extends () => unknown>(
  open: (onEnd: () => void) => Promise<Stop>,
  onEnd: () => void,
  release: () => void,
): Promise<Stop> {
  let isHeld = true;
  const releaseOnce = () => {
    if (!isHeld) return;
    isHeld = false;
    release();
  };
  try {
    const stop = await open(() => {
      releaseOnce();
      onEnd();
    });
    return (() => {
      releaseOnce();
      return stop();
    }) as Stop;
  } catch (error) {
    releaseOnce();
    throw error;
  }
}

/** The commands of a batch, as sent. */
export function argsOf(batch: Batch): Command[] {
  return batch.commands.map((command) => command.args);
}

/** Round-trips a PING by `deadline`, as the gateway, on a primary (Cluster: one that answers). */
export async function ping(backend: RedisBackend, deadline: number): Promise<void> {
  const args = ['PING'];
  const command = { args, info: backend.commandTable?.lookup(args) };
  await backend.run({ principal: GATEWAY_PRINCIPAL, commands: [command], deadline });
}

/** The near caches of every primary (none with the near cache off). */
export function nearCachesOf(backend: RedisBackend): NearCache[] {
  return backend.nodes().flatMap(({ nearCache }) => (nearCache === undefined ? [] : [nearCache]));
}
