import { EventEmitter } from 'node:events';
import { ErrorReply } from '@redis/client';
import calculateSlot from 'cluster-key-slot';
import type { FastifyBaseLogger } from 'fastify';
import { type CommandInfo, CommandTable, keysOf } from './command-table.js';
import type { NodeAddress, RedisBackend } from './connect.js';
import { NotSentError, RedisConnection, TransactionAbortedError } from './connection.js';
import { combineReplies, scanAcrossMasters } from './fan-out.js';
import { type MessageListener, Subscriber, type SubscriptionKind, type Unsubscribe } from './subscriber.js';
import { type Arg, type Command, type RedisUser, type Reply, userKey } from './types.js';

/** Options for {@link ClusterBackend}. */
export interface ClusterOptions {
  /** Some nodes of the cluster; the rest is discovered with CLUSTER SLOTS. */
  nodes: NodeAddress[];
  password?: string | undefined;
  tlsCa?: Buffer | undefined;
  tls: boolean;
  commandTimeoutMs: number;
  logger: FastifyBaseLogger;
}

const SLOTS = 16384;
/** How often the topology is refreshed while all is well (MOVED and lost nodes prompt it at once)... */
const REFRESH_INTERVAL_MS = 5000;
/** ...and while a master is unreachable, to find its promoted replica soon after the failover. */
const FAILOVER_REFRESH_INTERVAL_MS = 500;
/** Redirections followed for one command before giving up. */
const MAX_REDIRECTIONS = 5;

/**
 * Redis Cluster. Every command goes to the master owning the hash slot of its first key, found through the
 * server's own key specs, so arbitrary commands route as well as typed ones. MOVED updates the slot map and
 * retries; ASK retries once on the importing node with ASKING. Keyless commands that Redis tags
 * `request_policy:all_shards`/`all_nodes` (DBSIZE, KEYS, FLUSHALL, SCRIPT LOAD, ...) run on every master and
 * their replies combine as the tags say; SCAN walks the masters one after another behind one cursor. Other
 * keyless commands go to any master. Multi-key commands across slots get Redis's own CROSSSLOT error.
 */
export class ClusterBackend extends EventEmitter implements RedisBackend {
  commandTable: CommandTable | undefined;
  readonly #options: ClusterOptions;
  /** Master address (`host:port`) of each slot. */
  #slots: (string | undefined)[] = new Array(SLOTS);
  /** Known masters, sorted, so SCAN cursors keep their meaning between calls. */
  #masters: string[] = [];
  /** Connections per Redis user ('' = the gateway's own credentials), per node address. */
  readonly #pools = new Map<string, Map<string, RedisConnection>>();
  /** Pub/sub connections, per user, each to one master: cluster pub/sub reaches every node. */
  readonly #subscribers = new Map<string, Subscriber>();
  #refreshing: Promise<void> | undefined;
  #isUp = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ClusterOptions) {
    super();
    this.#options = options;
    void this.#refreshLoop();
  }

  async #refreshLoop() {
    await this.refresh();
    if (this.#closed) return;
    this.#timer = setTimeout(
      () => void this.#refreshLoop(),
      this.#isUp ? REFRESH_INTERVAL_MS : FAILOVER_REFRESH_INTERVAL_MS,
    );
    this.#timer.unref();
  }

  get isReady(): boolean {
    return this.commandTable !== undefined && this.#masters.length > 0;
  }

  send(command: Command, user?: RedisUser): Promise<Reply> {
    const info = this.commandTable?.lookup(command);
    const keys = info ? keysOf(info, command) : [];
    if (keys.length === 0 && info !== undefined && isFanOut(info)) return this.#fanOut(info, command, user);
    return this.#sendToSlot(keys.length > 0 ? calculateSlot(keys[0] as Arg) : undefined, command, user);
  }

  async transaction(commands: Command[], user?: RedisUser): Promise<Reply[]> {
    const slots = new Set<number>();
    for (const command of commands) {
      const info = this.commandTable?.lookup(command);
      for (const key of info ? keysOf(info, command) : []) slots.add(calculateSlot(key));
    }
    if (slots.size > 1) {
      throw new TransactionAbortedError(
        'CROSSSLOT Keys of a /multi-exec transaction must hash to the same slot in Cluster mode; use a {hash tag}',
      );
    }
    const [slot] = slots;
    return this.#connection(this.#ownerOf(slot), user).transaction(commands);
  }

  async subscribe(
    kind: SubscriptionKind,
    name: string,
    listener: MessageListener,
    onEnd: () => void,
    user?: RedisUser,
  ): Promise<Unsubscribe> {
    const id = userKey(user);
    let subscriber = this.#subscribers.get(id);
    if (subscriber === undefined) {
      const { tls, password, tlsCa, commandTimeoutMs, logger } = this.#options;
      const url = `${tls ? 'rediss' : 'redis'}://${this.#ownerOf(undefined)}`;
      subscriber = new Subscriber({ url, password, user, tlsCa, commandTimeoutMs, logger });
      this.#subscribers.set(id, subscriber);
    }
    return subscriber.subscribe(kind, name, listener, onEnd);
  }

  async ping(): Promise<void> {
    // Ready while any master answers: one failed shard must not take the whole gateway out of a load balancer.
    await Promise.any(this.#masters.map((address) => this.#connection(address).send(['PING'])));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const subscriber of this.#subscribers.values()) subscriber.close();
    clearTimeout(this.#timer);
    await Promise.all([...this.#pools.values()].flatMap((pool) => [...pool.values()].map((c) => c.close())));
  }

  /** Re-reads the slot map from any reachable node (one refresh at a time). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh() {
    const seeds = this.#options.nodes.map(({ host, port }) => `${host}:${port}`);
    for (const address of new Set([...this.#masters, ...seeds])) {
      const connection = this.#connection(address);
      try {
        const reply = await connection.send(['CLUSTER', 'SLOTS'], { typeMapping: {} });
        this.#applySlots(reply);
        if (this.commandTable === undefined) {
          this.commandTable = CommandTable.fromCommandReply(
            await connection.send(['COMMAND'], { typeMapping: {} }),
          );
        }
        this.#updateUp();
        return;
      } catch {
        // Try the next node.
      }
    }
    this.#options.logger.warn('no cluster node answered CLUSTER SLOTS; retrying');
  }

  #applySlots(reply: Reply) {
    if (!Array.isArray(reply)) return;
    const slots: (string | undefined)[] = new Array(SLOTS);
    const masters = new Set<string>();
    for (const range of reply) {
      if (!Array.isArray(range)) continue;
      const [start, end, master] = range as [number, number, Reply[]];
      const address = `${String(master[0])}:${Number(master[1])}`;
      masters.add(address);
      for (let slot = start; slot <= end; slot++) slots[slot] = address;
    }
    this.#slots = slots;
    const sorted = [...masters].sort();
    if (sorted.join() === this.#masters.join()) return;
    this.#options.logger.info({ masters: sorted }, 'cluster topology');
    this.#masters = sorted;
    // Former masters (failed over, removed) get no more commands; seeds stay for discovery.
    const keep = new Set([...sorted, ...this.#options.nodes.map(({ host, port }) => `${host}:${port}`)]);
    for (const pool of this.#pools.values()) {
      for (const [address, connection] of pool) {
        if (keep.has(address)) continue;
        pool.delete(address);
        void connection.close();
      }
    }
  }

  #updateUp() {
    const up = this.isReady && this.#masters.every((address) => this.#connection(address).isReady);
    if (up === this.#isUp) return;
    this.#isUp = up;
    this.emit(up ? 'up' : 'down');
  }

  #ownerOf(slot: number | undefined): string {
    const address =
      slot === undefined
        ? this.#masters[Math.floor(Math.random() * this.#masters.length)]
        : this.#slots[slot];
    if (address === undefined) {
      void this.refresh();
      throw new NotSentError(
        slot === undefined ? 'No cluster master is known' : `No master serves slot ${slot}`,
      );
    }
    return address;
  }

  async #sendToSlot(slot: number | undefined, command: Command, user: RedisUser | undefined): Promise<Reply> {
    let address = this.#ownerOf(slot);
    for (let redirections = 0; ; redirections++) {
      const reply = await this.#connection(address, user).send(command).catch(asReply);
      if (!(reply instanceof ErrorReply)) return reply;
      const [kind, , target] = reply.message.split(' ');
      if (kind === 'CLUSTERDOWN') throw new NotSentError(reply.message);
      if ((kind !== 'MOVED' && kind !== 'ASK') || target === undefined || redirections >= MAX_REDIRECTIONS)
        return reply;
      if (kind === 'MOVED') {
        // Trust the redirection now and learn the rest of the new map in the background.
        if (slot !== undefined) this.#slots[slot] = target;
        void this.refresh();
        address = target;
        continue;
      }
      const [, asked] = await this.#connection(target, user).chain([['ASKING'], command]);
      if (asked?.status === 'fulfilled') return asked.value;
      return asReply(asked?.reason);
    }
  }

  async #fanOut(info: CommandInfo, command: Command, user: RedisUser | undefined): Promise<Reply> {
    if (this.#masters.length === 0) throw new NotSentError('No cluster master is known');
    if (info.name === 'scan') {
      return scanAcrossMasters(command, this.#masters, (address, scan) =>
        this.#connection(address, user).send(scan),
      );
    }
    const replies = await Promise.all(
      this.#masters.map((address) => this.#connection(address, user).send(command).catch(asReply)),
    );
    return combineReplies(info, replies);
  }

  /** The connection to a node for a user, opened on first use and watched for losses. */
  #connection(address: string, user?: RedisUser): RedisConnection {
    const poolId = userKey(user);
    let pool = this.#pools.get(poolId);
    if (pool === undefined) {
      pool = new Map();
      this.#pools.set(poolId, pool);
    }
    let connection = pool.get(address);
    if (connection === undefined) {
      const { tls, password, tlsCa, commandTimeoutMs, logger } = this.#options;
      connection = new RedisConnection({
        url: `${tls ? 'rediss' : 'redis'}://${address}`,
        password,
        user,
        tlsCa,
        commandTimeoutMs,
        logger,
      });
      if (user === undefined) {
        connection.on('down', () => {
          this.#updateUp();
          void this.refresh();
        });
        connection.on('up', () => this.#updateUp());
        connection.on('reconnecting', () => this.emit('reconnecting'));
      }
      pool.set(address, connection);
    }
    return connection;
  }
}

/** Keyless commands Redis asks cluster clients to run on every shard or node. */
function isFanOut(info: CommandInfo): boolean {
  return info.requestPolicy === 'all_shards' || info.requestPolicy === 'all_nodes' || info.name === 'scan';
}

function asReply(error: unknown): Reply {
  if (error instanceof ErrorReply) return error;
  throw error;
}
