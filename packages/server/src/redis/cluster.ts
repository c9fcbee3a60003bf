import { EventEmitter } from 'node:events';
import calculateSlot from 'cluster-key-slot';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../log.js';
import type { Batch, NodeAddress, PlannedCommand, RedisBackend } from './backend.js';
import { type CommandInfo, CommandTable, keysOf } from './command-table.js';
import {
  ConnectionLostError,
  NotSentError,
  type RedisConnection,
  TransactionAbortedError,
} from './connection.js';
import type { RedisFailure } from './failure.js';
import { combineReplies, scanAcrossMasters } from './fan-out.js';
import { type MonitorStream, openMonitors, type StopMonitor } from './monitor.js';
import type { NearCache, NearCacheOptions } from './near-cache.js';
import { RedisNode } from './node.js';
import { ErrorReply, replyAsText } from './resp.js';
import type { ScopeUsers } from './scope-users.js';
import type { Subscription, SubscriptionCount, Unsubscribe } from './subscriber.js';
import type { Arg, Command, Reply } from './types.js';

/** Options for {@link ClusterBackend}. */
export interface ClusterOptions {
  /** Some nodes of the cluster; the rest is discovered with CLUSTER SLOTS. */
  nodes: NodeAddress[];
  password?: string | undefined;
  tlsCa?: Buffer | undefined;
  tls: boolean;
  commandTimeoutMs: number;
  maxReplyDepth: number;
  maxReplyBytes: number;
  scopeUsers: ScopeUsers;
  nearCache?: NearCacheOptions | undefined;
  /** Where open subscriptions are counted. @default per node */
  subscriptions?: SubscriptionCount | undefined;
  logger: Logger;
}

const SLOTS = 16384;
/** How often the topology is refreshed while all is well (MOVED and lost nodes prompt it at once)... */
const REFRESH_INTERVAL_MS = 5000;
/** ...and while a master is unreachable, to find its promoted replica soon after the failover. */
const FAILOVER_REFRESH_INTERVAL_MS = 500;
/** Redirections followed for one command before giving up. */
const MAX_REDIRECTIONS = 5;

/** Where a command goes: a slot's master, any master (`undefined`), or every master. */
type Route = number | undefined | 'fan-out';

/**
 * Redis Cluster. Every command goes to the master owning the hash slot of its first key, found through the
 * server's own key specs, so arbitrary commands route as well as typed ones; a pipeline is split by master
 * and each part written in one go. MOVED updates the slot map and retries; ASK retries once on the
 * importing node with ASKING. Keyless commands that Redis tags `request_policy:all_shards`/`all_nodes`
 * (DBSIZE, KEYS, FLUSHALL, SCRIPT LOAD, ...) run on every master and their replies combine as the tags say;
 * SCAN walks the masters one after another behind one cursor. Other keyless commands go to any master.
 * Multi-key commands across slots get Redis's own CROSSSLOT error. Every node is prepared (scope users)
 * on its own: ACLs are per node.
 */
export class ClusterBackend extends EventEmitter implements RedisBackend {
  commandTable: CommandTable | undefined;
  readonly #options: ClusterOptions;
  /** Master address (`host:port`) of each slot. */
  #slots: (string | undefined)[] = new Array(SLOTS);
  /** Known masters, sorted, so SCAN cursors keep their meaning between calls. */
  #masters: string[] = [];
  readonly #nodes = new Map<string, RedisNode>();
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
    return (
      this.commandTable !== undefined &&
      this.#masters.length > 0 &&
      this.#masters.some((address) => this.#nodes.get(address)?.isReady)
    );
  }

  /** The first node's failure, masters first: with one reason per node, one stands for all. */
  get failure(): RedisFailure | undefined {
    if (this.isReady) return undefined;
    const addresses = [...this.#masters, ...this.#nodes.keys()];
    for (const address of addresses) {
      const failure = this.#nodes.get(address)?.own.failure;
      if (failure !== undefined) return failure;
    }
    return undefined;
  }

  async pipeline(batch: Batch): Promise<Reply[]> {
    const { commands, principal, deadline, form = 'bytes', reservation } = batch;
    // Every route first: a slot without a known master fails the batch before any of it is sent.
    const routes = commands.map((command) => this.#route(command));
    const owners = routes.map((route) => (route === 'fan-out' ? undefined : this.#ownerOf(route)));
    const replies: Reply[] = new Array(commands.length).fill(null);
    const groups = new Map<string, number[]>();
    const sent: Promise<void>[] = [];
    routes.forEach((route, i) => {
      const owner = owners[i] as string;
      if (route === 'fan-out') {
        sent.push(
          this.#fanOut(commands[i] as PlannedCommand, batch).then((reply) => {
            replies[i] = reply;
          }),
        );
        return;
      }
      const group = groups.get(owner);
      if (group === undefined) groups.set(owner, [i]);
      else group.push(i);
    });
    for (const [address, indexes] of groups) {
      const connection = this.#node(address).connectionFor(principal);
      const part = indexes.map((i) => (commands[i] as PlannedCommand).args);
      sent.push(
        connection.send(part, deadline, form, reservation).then((partReplies) => {
          indexes.forEach((i, j) => {
            replies[i] = partReplies[j] ?? null;
          });
        }),
      );
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
      );
    }
    return replies;
  }

  async transaction(batch: Batch): Promise<Reply[]> {
    const slots = new Set<number>();
    for (const { args, info } of batch.commands) {
      for (const key of info ? keysOf(info, args) : []) slots.add(calculateSlot(key));
    }
    if (slots.size > 1) {
      throw new TransactionAbortedError(
        'CROSSSLOT Keys of a /multi-exec transaction must hash to the same slot in Cluster mode; use a {hash tag}',
      );
    }
    const [slot] = slots;
    const connection = this.#node(this.#ownerOf(slot)).connectionFor(batch.principal);
    return connection.transaction(
      batch.commands.map((command) => command.args),
      batch.deadline,
      batch.form,
      batch.reservation,
    );
  }

  /** On a random master: cluster pub/sub reaches every node. */
  async subscribe(principal: Principal, subscription: Subscription): Promise<Unsubscribe> {
    return this.#node(this.#ownerOf(undefined)).subscriber(principal).subscribe(subscription);
  }

  /**
   * Every master's MONITOR merged into one stream: a command shows up whichever shard ran it. The stream
   * covers the masters known when it opened and ends when any of their connections is lost (a failover,
   * a removed master), so the client reopens it on the new topology instead of silently missing a shard.
   */
  async monitor(principal: Principal, stream: MonitorStream, deadline: number): Promise<StopMonitor> {
    if (this.#masters.length === 0) throw new NotSentError('No cluster master is known');
    return openMonitors(
      this.#masters.map(
        (address) => (end) =>
          this.#node(address).monitor(principal, { listener: stream.listener, onEnd: end }, deadline),
      ),
      stream.onEnd,
    );
  }

  async ping(deadline: number): Promise<void> {
    // Ready while any master answers: one failed shard must not take the whole gateway out of a load balancer.
    await Promise.any(this.#masters.map((address) => this.#node(address).own.send([['PING']], deadline)));
  }

  /** The near cache of the master owning the read's slot (each master tracks what was read from it). */
  nearCacheFor(command: PlannedCommand): NearCache | undefined {
    const route = this.#route(command);
    if (typeof route !== 'number') return undefined;
    const address = this.#slots[route];
    return address === undefined ? undefined : this.#nodes.get(address)?.nearCache;
  }

  nearCaches(): NearCache[] {
    const caches: NearCache[] = [];
    for (const address of this.#masters) {
      const cache = this.#nodes.get(address)?.nearCache;
      if (cache !== undefined) caches.push(cache);
    }
    return caches;
  }

  scriptsNeedAdmin(principal: Principal): boolean {
    return this.#options.scopeUsers.scriptsNeedAdmin(principal);
  }

  setTokenUsers(principals: Iterable<Principal>, sharesServer = false): void {
    this.#options.scopeUsers.setTokenUsers(principals, sharesServer);
    for (const node of this.#nodes.values()) void node.refreshUsers();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await Promise.all([...this.#nodes.values()].map((node) => node.close()));
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
      try {
        const deadline = Date.now() + this.#options.commandTimeoutMs;
        const [reply] = await this.#node(address).own.send([['CLUSTER', 'SLOTS']], deadline);
        this.#applySlots(reply ?? null);
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
    for (const address of sorted) this.#node(address);
    if (sorted.join() === this.#masters.join()) return;
    this.#options.logger.info({ masters: sorted }, 'cluster topology');
    this.#masters = sorted;
    // Former masters (failed over, removed) get no more commands; seeds stay for discovery.
    const keep = new Set([...sorted, ...this.#options.nodes.map(({ host, port }) => `${host}:${port}`)]);
    for (const [address, node] of this.#nodes) {
      if (keep.has(address)) continue;
      this.#nodes.delete(address);
      void node.close();
    }
  }

  #updateUp() {
    const up = this.isReady && this.#masters.every((address) => this.#nodes.get(address)?.isReady);
    if (up === this.#isUp) return;
    this.#isUp = up;
    this.emit(up ? 'up' : 'down');
  }

  #route({ args, info }: PlannedCommand): Route {
    const keys = info ? keysOf(info, args) : [];
    if (keys.length > 0) return calculateSlot(keys[0] as Arg);
    return info !== undefined && isFanOut(info) ? 'fan-out' : undefined;
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

  /** Follows MOVED (the slot moved for good) and ASK (it is being migrated) to the node that has the key. */
  async #followRedirects(
    reply: ErrorReply,
    { args }: PlannedCommand,
    slot: number | undefined,
    { principal, deadline, form, reservation }: Batch,
  ): Promise<Reply> {
    let current: Reply = reply;
    for (let redirections = 0; redirections < MAX_REDIRECTIONS; redirections++) {
      if (!(current instanceof ErrorReply)) return current;
      const [kind, , target]: (string | undefined)[] = current.message.split(' ');
      if ((kind !== 'MOVED' && kind !== 'ASK') || target === undefined) return current;
      const connection: RedisConnection = this.#node(target).connectionFor(principal);
      if (kind === 'MOVED') {
        // Trust the redirection now and learn the rest of the new map in the background.
        if (slot !== undefined) this.#slots[slot] = target;
        void this.refresh();
        [current = null] = await connection.send([args], deadline, form, reservation);
      } else {
        [, current = null] = await connection.send([['ASKING'], args], deadline, form, reservation);
      }
    }
    return current;
  }

  async #fanOut({ args, info }: PlannedCommand, { principal, deadline, reservation }: Batch): Promise<Reply> {
    if (this.#masters.length === 0) throw new NotSentError('No cluster master is known');
    const sendTo = async (address: string, command: Command): Promise<Reply> => {
      const [reply = null] = await this.#node(address)
        .connectionFor(principal)
        .send([command], deadline, 'bytes', reservation);
      return reply;
    };
    if (info?.name === 'scan') return scanAcrossMasters(args, this.#masters, sendTo);
    const replies = await Promise.all(this.#masters.map((address) => sendTo(address, args)));
    return combineReplies(info as CommandInfo, replies);
  }

  /** The node at an address, created (and prepared in the background) on first use. */
  #node(address: string): RedisNode {
    let node = this.#nodes.get(address);
    if (node === undefined) {
      const { tls, scopeUsers } = this.#options;
      node = new RedisNode({
        ...this.#options,
        url: `${tls ? 'rediss' : 'redis'}://${address}`,
        scopeUsers,
        commandTable: (own) => this.#commandTableFrom(own),
      });
      node.on('down', () => {
        this.#updateUp();
        void this.refresh();
      });
      node.on('up', () => this.#updateUp());
      node.on('reconnecting', () => this.emit('reconnecting'));
      node.own.on('failure', (failure: RedisFailure) => this.emit('failure', failure));
      this.#nodes.set(address, node);
    }
    return node;
  }

  /** The cluster's one command table, loaded from the first node that comes up. */
  async #commandTableFrom(own: RedisConnection): Promise<CommandTable> {
    if (this.commandTable !== undefined) return this.commandTable;
    const [reply] = await own.send([['COMMAND']], Date.now() + 10_000);
    this.commandTable = CommandTable.fromCommandReply(replyAsText(reply ?? null));
    return this.commandTable;
  }
}

/** Keyless commands Redis asks cluster clients to run on every shard or node. */
function isFanOut(info: CommandInfo): boolean {
  return info.requestPolicy === 'all_shards' || info.requestPolicy === 'all_nodes' || info.name === 'scan';
}
