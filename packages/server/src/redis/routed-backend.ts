import { EventEmitter } from 'node:events';
import calculateSlot from 'cluster-key-slot';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../log.js';
import type { Batch, Executed, PlannedCommand, RedisBackend } from './backend.js';
import { type CommandInfo, type CommandTable, keysOf } from './command-table.js';
import {
  ConnectionLostError,
  NotSentError,
  type RedisConnection,
  TransactionAbortedError,
} from './connection.js';
import type { RedisFailure } from './failure.js';
import { combineReplies, scanAcrossMasters } from './fan-out.js';
import { type MonitorStream, openMonitors, type StopMonitor } from './monitor.js';
import type { NearCache } from './near-cache.js';
import type { RedisNode } from './node.js';
import { ErrorReply } from './resp.js';
import type { ScopeUsers } from './scope-users.js';
import type { Subscription, Unsubscribe } from './subscriber.js';
import { mergeSyncPoints, offsetFor, type SyncPoint, UNKNOWN_OFFSET } from './sync-point.js';
import { parseRole } from './topology/replication.js';
import type { NodeStatus, Shard } from './topology/shard.js';
import type { Topology } from './topology/topology.js';
import type { Arg, Command, Reply } from './types.js';

/** Options for {@link RoutedBackend}. */
export interface RoutedBackendOptions {
  topology: Topology;
  scopeUsers: ScopeUsers;
  /**
   * Follow every batch that may write with `ROLE` on its connection, so that its answer can say how far the
   * replication stream had got (CACHEGATE_READ_FROM=replicas). @default false
   */
  tracksOffsets?: boolean;
  logger: Logger;
}

/** Redirections followed for one command before giving up. */
const MAX_REDIRECTIONS = 5;

/** Where a command goes: a slot's shard, any shard (`undefined`), or every shard. */
type Route = number | undefined | 'fan-out';

/** The sync points a batch's writes reached, shard by shard, as their ROLE replies come in. */
type Reached = Map<string, number>;

/**
 * The one backend (decision 0021): runs batches on the nodes its Topology names. A batch that only reads
 * (every command `readonly` by the server's flags) may go to a replica that applied the caller's sync point;
 * anything else goes to primaries. In a sharded topology every command goes to the shard of its first
 * key's hash slot (found through the server's key specs), a pipeline is split by node and each part written
 * in one go, MOVED and ASK are followed, keyless commands Redis tags `request_policy:all_shards`/`all_nodes`
 * run on every primary and their replies combine as the tags say, SCAN walks the primaries behind one
 * cursor, and multi-key commands across slots get Redis's own CROSSSLOT error. With `tracksOffsets`, a
 * batch that may write is followed by `ROLE` on the same connection, in the same write: its reply is the
 * primary's offset just after the batch.
 */
export class RoutedBackend extends EventEmitter implements RedisBackend {
  readonly #topology: Topology;
  readonly #scopeUsers: ScopeUsers;
  readonly #tracksOffsets: boolean;
  readonly #log: Logger;
  #warnedRoleRefused = false;

  constructor(options: RoutedBackendOptions) {
    super();
    this.#topology = options.topology;
    this.#scopeUsers = options.scopeUsers;
    this.#tracksOffsets = options.tracksOffsets === true;
    this.#log = options.logger;
    for (const event of ['up', 'down', 'reconnecting'] as const)
      this.#topology.on(event, () => this.emit(event));
    this.#topology.on('failure', (failure: RedisFailure) => this.emit('failure', failure));
  }

  get isReady(): boolean {
    return this.#topology.isReady;
  }

  get failure(): RedisFailure | undefined {
    return this.#topology.failure;
  }

  get commandTable(): CommandTable | undefined {
    return this.#topology.commandTable;
  }

  run(batch: Batch): Promise<Executed> {
    if (batch.mode === 'transaction') return this.#transaction(batch);
    return this.#topology.isSharded ? this.#pipelineSharded(batch) : this.#pipeline(batch);
  }

  async subscribe(principal: Principal, subscription: Subscription): Promise<Unsubscribe> {
    // One primary: cluster pub/sub reaches every node; a failover ends it (onEnd) and the client resubscribes.
    return this.#primaryOf(this.#topology.shardFor(undefined)).subscriber(principal).subscribe(subscription);
  }

  /**
   * Every primary's MONITOR merged into one stream: a command shows up whichever shard ran it. The stream
   * covers the primaries known when it opened and ends when any of their connections is lost (a failover,
   * a removed master), so the client reopens it on the new topology instead of silently missing a shard.
   */
  async monitor(principal: Principal, stream: MonitorStream, deadline: number): Promise<StopMonitor> {
    const primaries = this.#primaries();
    if (primaries.length === 0) throw new NotSentError('No Redis primary is known');
    if (primaries.length === 1) return (primaries[0] as RedisNode).monitor(principal, stream, deadline);
    return openMonitors(
      primaries.map(
        (node) => (end) => node.monitor(principal, { listener: stream.listener, onEnd: end }, deadline),
      ),
      stream.onEnd,
    );
  }

  nearCacheFor(command: PlannedCommand, seen?: SyncPoint): NearCache | undefined {
    let shard: Shard;
    try {
      const route = this.#topology.isSharded ? this.#route(command) : undefined;
      if (route === 'fan-out') return undefined;
      shard = this.#topology.shardFor(route);
    } catch {
      return undefined;
    }
    const cache = shard.primary?.nearCache;
    if (cache === undefined || seen === undefined) return cache;
    // A caller that has seen a write the cache may not have heard of yet reads past it.
    return offsetFor(seen, shard.id) > Math.max(0, cache.coherentOffset) ? undefined : cache;
  }

  nodes(): NodeStatus[] {
    return this.#topology.shards().flatMap((shard) => shard.statuses());
  }

  scriptsNeedAdmin(principal: Principal): boolean {
    return this.#scopeUsers.scriptsNeedAdmin(principal);
  }

  setTokenUsers(principals: Iterable<Principal>, sharesServer = false): void {
    this.#topology.setTokenUsers(principals, sharesServer);
  }

  close(): Promise<void> {
    return this.#topology.close();
  }

  /** One shard: the whole batch on one node. */
  #pipeline(batch: Batch): Promise<Executed> {
    const shard = this.#topology.shardFor(undefined);
    const found = shard.nodeFor(isReadOnly(batch), this.#required(batch.seen, shard), batch.deadline);
    if (found instanceof Promise) return found.then((node) => this.#pipelineOn(node, shard, batch));
    return this.#pipelineOn(found, shard, batch);
  }

  #pipelineOn(node: RedisNode, shard: Shard, batch: Batch): Promise<Executed> {
    const args = batch.commands.map((command) => command.args);
    const reached: Reached | undefined = this.#tracksOffsets && mayWrite(batch) ? new Map() : undefined;
    // The hot path of a primary alone: one send, nothing to fall back to or to track.
    if (reached === undefined && node === shard.primary) {
      const { principal, deadline, form, reservation } = batch;
      return node
        .connectionFor(principal)
        .send(args, deadline, form, reservation)
        .then((replies) => ({ replies }));
    }
    return this.#send(node, shard, args, batch, reached).then((replies) => ({
      replies,
      reached: this.#seenAfter(batch.seen, reached),
    }));
  }

  /** Sends one part of a batch to `node`; a part a replica could not answer goes to the primary. */
  async #send(
    node: RedisNode,
    shard: Shard,
    args: Command[],
    batch: Batch,
    reached: Reached | undefined,
  ): Promise<Reply[]> {
    const { principal, deadline, form = 'bytes', reservation } = batch;
    const connection = node.connectionFor(principal);
    const sent = connection.send(args, deadline, form, reservation);
    const role = reached === undefined ? undefined : this.#roleAfter(connection, batch);
    try {
      const replies = await sent;
      if (role !== undefined && reached !== undefined)
        await this.#noteReached(node, shard, role, batch, reached);
      return replies;
    } catch (error) {
      // A replica went away under a read (only reads go to replicas, and reads may run twice): the primary
      // answers instead, within the same deadline.
      const primary = shard.primary;
      const isLost = error instanceof NotSentError || error instanceof ConnectionLostError;
      if (!isLost || primary === undefined || primary === node) throw error;
      return primary.connectionFor(principal).send(args, deadline, form, reservation);
    }
  }

  async #transaction(batch: Batch): Promise<Executed> {
    const slots = new Set<number>();
    if (this.#topology.isSharded) {
      for (const { args, info } of batch.commands) {
        for (const key of info ? keysOf(info, args) : []) slots.add(calculateSlot(key));
      }
    }
    if (slots.size > 1) {
      throw new TransactionAbortedError(
        'CROSSSLOT Keys of a /multi-exec transaction must hash to the same slot in Cluster mode; use a {hash tag}',
      );
    }
    const [slot] = slots;
    const shard = this.#topology.shardFor(slot);
    const node = this.#primaryOf(shard);
    const connection = node.connectionFor(batch.principal);
    const ran = connection.transaction(
      batch.commands.map((command) => command.args),
      batch.deadline,
      batch.form,
      batch.reservation,
    );
    if (!this.#tracksOffsets || !mayWrite(batch)) return { replies: await ran };
    const role = this.#roleAfter(connection, batch);
    const replies = await ran;
    const reached: Reached = new Map();
    await this.#noteReached(node, shard, role, batch, reached);
    return { replies, reached: this.#seenAfter(batch.seen, reached) };
  }

  /** Sharded: each command on its slot's shard, one write per node, results back in request order. */
  async #pipelineSharded(batch: Batch): Promise<Executed> {
    const { commands } = batch;
    const isRead = isReadOnly(batch);
    const reached: Reached | undefined = this.#tracksOffsets && mayWrite(batch) ? new Map() : undefined;
    // Every route first: a slot without a known shard fails the batch before any of it is sent.
    const routes = commands.map((command) => this.#route(command));
    const groups = new Map<Shard, number[]>();
    const replies: Reply[] = new Array(commands.length).fill(null);
    const sent: Promise<void>[] = [];
    routes.forEach((route, i) => {
      if (route === 'fan-out') return;
      const shard = this.#topology.shardFor(route);
      const group = groups.get(shard);
      if (group === undefined) groups.set(shard, [i]);
      else group.push(i);
    });
    routes.forEach((route, i) => {
      if (route !== 'fan-out') return;
      sent.push(
        this.#fanOut(commands[i] as PlannedCommand, batch, reached).then((reply) => {
          replies[i] = reply;
        }),
      );
    });
    for (const [shard, indexes] of groups) {
      const part = indexes.map((i) => (commands[i] as PlannedCommand).args);
      const found = shard.nodeFor(isRead, this.#required(batch.seen, shard), batch.deadline);
      const sending = (node: RedisNode) =>
        this.#send(node, shard, part, batch, reached).then((partReplies) => {
          indexes.forEach((i, j) => {
            replies[i] = partReplies[j] ?? null;
          });
        });
      sent.push(found instanceof Promise ? found.then(sending) : sending(found));
    }
    await Promise.all(sent).catch((error: unknown) => {
      // One part never left, but another may have run: the batch as a whole may have run.
      if (sent.length > 1 && error instanceof NotSentError) throw new ConnectionLostError(error.message);
      throw error;
    });
    for (let i = 0; i < replies.length; i++) {
      const reply = replies[i];
      if (!(reply instanceof ErrorReply)) continue;
      if (reply.message.startsWith('CLUSTERDOWN') && commands.length === 1)
        throw new NotSentError(reply.message);
      const route = routes[i];
      replies[i] = await this.#followRedirects(
        reply,
        commands[i] as PlannedCommand,
        typeof route === 'number' ? route : undefined,
        batch,
        reached,
      );
    }
    return { replies, reached: this.#seenAfter(batch.seen, reached) };
  }

  /** Follows MOVED (the slot moved for good) and ASK (it is being migrated) to the node that has the key. */
  async #followRedirects(
    reply: ErrorReply,
    { args }: PlannedCommand,
    slot: number | undefined,
    batch: Batch,
    reached: Reached | undefined,
  ): Promise<Reply> {
    const { principal, deadline, form, reservation } = batch;
    let current: Reply = reply;
    for (let redirections = 0; redirections < MAX_REDIRECTIONS; redirections++) {
      if (!(current instanceof ErrorReply)) return current;
      const [kind, , target]: (string | undefined)[] = current.message.split(' ');
      if ((kind !== 'MOVED' && kind !== 'ASK') || target === undefined) return current;
      const node = this.#topology.nodeAt(target);
      const connection = node.connectionFor(principal);
      if (kind === 'MOVED' && slot !== undefined) this.#topology.moved(slot, target);
      const commands: Command[] = kind === 'MOVED' ? [args] : [['ASKING'], args];
      const sent = connection.send(commands, deadline, form, reservation);
      const role = reached === undefined ? undefined : this.#roleAfter(connection, batch);
      const answers = await sent;
      current = answers[answers.length - 1] ?? null;
      const shard = this.#topology.shards().find((candidate) => candidate.primary === node);
      if (role !== undefined && reached !== undefined && shard !== undefined)
        await this.#noteReached(node, shard, role, batch, reached);
    }
    return current;
  }

  async #fanOut({ args, info }: PlannedCommand, batch: Batch, reached: Reached | undefined): Promise<Reply> {
    const { principal, deadline, reservation } = batch;
    const shards = this.#topology.shards().filter((shard) => shard.primary !== undefined);
    if (shards.length === 0) throw new NotSentError('No cluster master is known');
    const sendTo = async (address: string, command: Command): Promise<Reply> => {
      const shard = shards.find((candidate) => candidate.primary?.address === address) as Shard;
      const node = this.#primaryOf(shard);
      const connection = node.connectionFor(principal);
      const sent = connection.send([command], deadline, 'bytes', reservation);
      const role = reached === undefined ? undefined : this.#roleAfter(connection, batch);
      const [reply = null] = await sent;
      if (role !== undefined && reached !== undefined)
        await this.#noteReached(node, shard, role, batch, reached);
      return reply;
    };
    const addresses = shards.map((shard) => (shard.primary as RedisNode).address);
    if (info?.name === 'scan') return scanAcrossMasters(args, addresses, sendTo);
    const replies = await Promise.all(addresses.map((address) => sendTo(address, args)));
    return combineReplies(info as CommandInfo, replies);
  }

  #route({ args, info }: PlannedCommand): Route {
    if (!this.#topology.isSharded) return undefined;
    const keys = info ? keysOf(info, args) : [];
    if (keys.length > 0) return calculateSlot(keys[0] as Arg);
    return info !== undefined && isFanOut(info) ? 'fan-out' : undefined;
  }

  /**
   * The offset a replica of `shard` must have applied for a caller that has seen `seen`. A sync point that
   * names a shard this topology does not have (a token minted before the shards changed) may hold anything:
   * only the primary answers it.
   */
  #required(seen: SyncPoint | undefined, shard: Shard): number {
    if (seen === undefined || seen.size === 0) return 0;
    if (seen.size > 1 || !seen.has(shard.id)) {
      const shards = this.#topology.shards();
      for (const id of seen.keys())
        if (!shards.some((candidate) => candidate.id === id)) return Number.POSITIVE_INFINITY;
    }
    const offset = offsetFor(seen, shard.id);
    return offset >= UNKNOWN_OFFSET ? Number.POSITIVE_INFINITY : offset;
  }

  /**
   * What a caller has seen once its batch wrote: what it had seen, less shards this topology no longer has
   * (and a sync point the gateway could not read), with the offsets its writes reached.
   */
  #seenAfter(seen: SyncPoint | undefined, reached: Reached | undefined): SyncPoint | undefined {
    if (reached === undefined) return undefined;
    const after = new Map<string, number>();
    const ids = new Set(this.#topology.shards().map((shard) => shard.id));
    for (const [id, offset] of seen ?? []) if (ids.has(id)) after.set(id, offset);
    return mergeSyncPoints(after, reached);
  }

  /** ROLE on `connection`, written right after what was just sent on it. */
  #roleAfter(connection: RedisConnection, batch: Batch): Promise<Reply[]> {
    const role = connection.send([['ROLE']], batch.deadline, 'bytes', batch.reservation);
    role.catch(() => undefined);
    return role;
  }

  /**
   * Records the primary offset after a write: from the ROLE that followed it, or (when the connection's
   * Redis user may not run ROLE) from one on the node's own connection, sent now that the write is done.
   */
  async #noteReached(
    node: RedisNode,
    shard: Shard,
    role: Promise<Reply[]>,
    batch: Batch,
    reached: Reached,
  ): Promise<void> {
    let answer = parseRole((await role.catch(() => []))[0]);
    if (answer?.kind !== 'primary') {
      const [own] = await node.own.send([['ROLE']], batch.deadline).catch(() => []);
      answer = parseRole(own);
    }
    if (answer?.kind !== 'primary') {
      if (!this.#warnedRoleRefused) {
        this.#warnedRoleRefused = true;
        this.#log.warn(
          { redis: node.address },
          'ROLE was refused after a write: its writer reads from primaries only until its next write (give the gateway user +role)',
        );
      }
      reached.set(shard.id, UNKNOWN_OFFSET);
      return;
    }
    shard.noteReached(answer.offset);
    reached.set(shard.id, Math.max(answer.offset, reached.get(shard.id) ?? 0));
  }

  #primaryOf(shard: Shard): RedisNode {
    const primary = shard.primary;
    if (primary === undefined) throw new NotSentError('No Redis primary is known');
    return primary;
  }

  #primaries(): RedisNode[] {
    return this.#topology.shards().flatMap((shard) => (shard.primary ? [shard.primary] : []));
  }
}

/** Every command only reads, by the server's flags: the batch may run on a replica. */
function isReadOnly({ commands }: Batch): boolean {
  for (const command of commands) if (command.info?.isReadonly !== true) return false;
  return true;
}

/** Some command may change data (unknown commands included): its answer says how far replication got. */
function mayWrite({ commands }: Batch): boolean {
  for (const command of commands) if (command.info?.isMutating ?? true) return true;
  return false;
}

/** Keyless commands Redis asks cluster clients to run on every shard or node. */
function isFanOut(info: CommandInfo): boolean {
  return info.requestPolicy === 'all_shards' || info.requestPolicy === 'all_nodes' || info.name === 'scan';
}
