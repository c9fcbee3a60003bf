import { EventEmitter } from 'node:events';
import type { Principal } from '../../auth/principal.js';
import type { NodeAddress } from '../backend.js';
import type { CommandTable } from '../command-table.js';
import { RedisConnection } from '../connection.js';
import type { RedisFailure } from '../failure.js';
import type { RedisNode } from '../node.js';
import { replyMap } from '../resp.js';
import type { Reply } from '../types.js';
import { CommandTableSource, type NodeSettings, openNode } from './nodes.js';
import { Shard } from './shard.js';
import { PREPARING, type Topology } from './topology.js';

/** Options for {@link SentinelTopology}. */
export interface SentinelOptions extends NodeSettings {
  sentinels: NodeAddress[];
  /** The master's name in the Sentinel configuration (`sentinel monitor <name> ...`). */
  masterName: string;
  /** Password of the Sentinels themselves. @default none */
  sentinelPassword?: string | undefined;
  tls: boolean;
}

/** How often the Sentinels are asked who the master and the replicas are. */
const POLL_INTERVAL_MS = 500;
/** Sentinel flags of a replica not worth connecting to. */
const UNUSABLE = /\b(s_down|o_down|disconnected)\b/;

/**
 * Redis behind Sentinel: one shard whose primary is the master the Sentinels name, and (when replicas are
 * read from) whose replicas are those they list. The Sentinels are polled every 500 ms (a failover takes
 * Sentinel seconds, so this adds little), which also catches a master that rejoined as a replica. While the
 * master is unreachable, requests fail fast with 503 like any outage; once Sentinel names a new master, the
 * gateway prepares it (command table, scope users: ACLs are not replicated), switches to it and closes the
 * old connections (decision 0006).
 */
export class SentinelTopology extends EventEmitter implements Topology {
  readonly isSharded = false;
  readonly #options: SentinelOptions;
  readonly #table = new CommandTableSource();
  readonly #sentinels: RedisConnection[];
  readonly #shard: Shard;
  #current: RedisNode | undefined;
  #candidate: RedisNode | undefined;
  readonly #replicas = new Map<string, RedisNode>();
  readonly #timer: NodeJS.Timeout;
  #polling = false;

  constructor(options: SentinelOptions) {
    super();
    this.#options = options;
    this.#shard = new Shard('0', options.shard);
    this.#sentinels = options.sentinels.map(
      ({ host, port }) =>
        new RedisConnection({
          url: `${this.#scheme}://${host}:${port}`,
          password: options.sentinelPassword,
          tlsCa: options.tlsCa,
          commandTimeoutMs: options.commandTimeoutMs,
          logger: options.logger,
        }),
    );
    for (const sentinel of this.#sentinels) {
      sentinel.on('failure', (failure: RedisFailure) =>
        this.emit('failure', { ...failure, reason: `Sentinel: ${failure.reason}` }),
      );
    }
    this.#timer = setInterval(() => void this.#poll(), POLL_INTERVAL_MS);
    this.#timer.unref();
    void this.#poll();
  }

  get isReady(): boolean {
    return this.#current?.isReady === true && this.#table.table !== undefined;
  }

  get commandTable(): CommandTable | undefined {
    return this.#table.table;
  }

  get failure(): RedisFailure | undefined {
    if (this.isReady) return undefined;
    for (const node of [this.#candidate, this.#current]) {
      if (node === undefined) continue;
      if (node.own.isReady) return PREPARING;
      if (node.own.failure !== undefined) return node.own.failure;
    }
    if (this.#sentinels.some((sentinel) => sentinel.isReady)) {
      return { kind: 'other', reason: 'Sentinel has not named a reachable master yet' };
    }
    const sentinel = this.#sentinels.find((connection) => connection.failure !== undefined)?.failure;
    return sentinel && { ...sentinel, reason: `Sentinel: ${sentinel.reason}` };
  }

  shardFor(): Shard {
    return this.#shard;
  }

  shards(): readonly Shard[] {
    return [this.#shard];
  }

  nodeAt(): RedisNode {
    return this.#shard.primary as RedisNode;
  }

  moved(): void {
    // Not sharded: Redis never redirects.
  }

  setTokenUsers(principals: Iterable<Principal>, sharesServer: boolean): void {
    this.#options.scopeUsers.setTokenUsers(principals, sharesServer);
    for (const node of this.#nodes()) void node.refreshUsers();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#shard.stop();
    await Promise.all([
      ...this.#nodes().map((node) => node.close()),
      ...this.#sentinels.map((sentinel) => sentinel.close()),
    ]);
  }

  get #scheme(): string {
    return this.#options.tls ? 'rediss' : 'redis';
  }

  #nodes(): RedisNode[] {
    return [this.#current, this.#candidate, ...this.#replicas.values()].filter(
      (node): node is RedisNode => node !== undefined,
    );
  }

  /** Asks the Sentinels for the master (and replicas) and follows what changed. */
  async #poll() {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const master = await this.#ask(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.#options.masterName]);
      if (Array.isArray(master) && master.length === 2) {
        const address = `${String(master[0])}:${String(master[1])}`;
        if (this.#current?.address !== address && this.#candidate?.address !== address)
          this.#switchTo(address);
      }
      if (this.#options.shard.readsFromReplicas) {
        const replicas = await this.#ask(['SENTINEL', 'REPLICAS', this.#options.masterName]);
        if (Array.isArray(replicas)) this.#followReplicas(replicas);
      }
    } finally {
      this.#polling = false;
    }
  }

  /** Asks the first Sentinel that answers. */
  async #ask(command: string[]): Promise<Reply | undefined> {
    for (const sentinel of this.#sentinels) {
      if (!sentinel.isReady) continue;
      try {
        const [reply] = await sentinel.send([command], Date.now() + this.#options.commandTimeoutMs);
        if (Array.isArray(reply)) return reply;
      } catch {
        // Ask the next Sentinel.
      }
    }
    return undefined;
  }

  /** Connects to the new master and makes it the shard's primary once it is up (and prepared). */
  #switchTo(address: string) {
    const { logger } = this.#options;
    logger.warn({ master: address, previous: this.#current?.address }, 'Sentinel names a new master');
    void this.#candidate?.close();
    const candidate = openNode(this.#options, `${this.#scheme}://${address}`, 'primary', this.#table, {
      reloadTable: true,
    });
    this.#candidate = candidate;
    candidate.own.on('failure', (failure: RedisFailure) => this.emit('failure', failure));
    candidate.once('up', () => {
      if (this.#candidate !== candidate) return;
      const previous = this.#current;
      this.#current = candidate;
      this.#candidate = undefined;
      this.#shard.setPrimary(candidate);
      // The new master was a replica: it reads no more as one.
      this.#dropReplica(address);
      candidate.on('down', () => this.#current === candidate && this.emit('down'));
      candidate.on('reconnecting', () => this.#current === candidate && this.emit('reconnecting'));
      candidate.on('up', () => this.#current === candidate && this.emit('up'));
      this.emit('up');
      // In-flight commands on the old master finish or fail on their own; nothing new goes there.
      void previous?.close();
    });
  }

  /** Opens the replicas the Sentinels list as usable, and closes those they no longer do. */
  #followReplicas(reply: Reply[]) {
    const listed = new Set<string>();
    for (const entry of reply) {
      const fields = replyMap(entry);
      if (UNUSABLE.test(String(fields.flags))) continue;
      const address = `${String(fields.ip)}:${String(fields.port)}`;
      const only = this.#options.shard.onlyReplicas;
      if (address !== this.#current?.address && (only === undefined || only.has(address)))
        listed.add(address);
    }
    for (const address of this.#replicas.keys()) if (!listed.has(address)) this.#dropReplica(address);
    for (const address of listed) {
      if (this.#replicas.has(address)) continue;
      this.#replicas.set(
        address,
        openNode(this.#options, `${this.#scheme}://${address}`, 'replica', this.#table),
      );
    }
    this.#shard.setReplicas([...this.#replicas.values()]);
  }

  #dropReplica(address: string) {
    const node = this.#replicas.get(address);
    if (node === undefined) return;
    this.#replicas.delete(address);
    this.#shard.setReplicas([...this.#replicas.values()]);
    void node.close();
  }
}
