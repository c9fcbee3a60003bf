import { EventEmitter } from 'node:events';
import type { Principal } from '../../auth/principal.js';
import type { NodeAddress } from '../backend.js';
import type { CommandTable } from '../command-table.js';
import { NotSentError } from '../connection.js';
import type { RedisFailure } from '../failure.js';
import type { RedisNode } from '../node.js';
import type { Reply } from '../types.js';
import { CommandTableSource, type NodeSettings, openNode } from './nodes.js';
import { Shard } from './shard.js';
import type { Topology } from './topology.js';

/** Options for {@link ClusterTopology}. */
export interface ClusterOptions extends NodeSettings {
  /** Some nodes of the cluster; the rest is discovered with CLUSTER SLOTS. */
  nodes: NodeAddress[];
  tls: boolean;
}

const SLOTS = 16384;
/** How often the topology is refreshed while all is well (MOVED and lost nodes prompt it at once)... */
const REFRESH_INTERVAL_MS = 5000;
/** ...and while a master is unreachable, to find its promoted replica soon after the failover. */
const FAILOVER_REFRESH_INTERVAL_MS = 500;

/**
 * Redis Cluster (decision 0005): the slot map from `CLUSTER SLOTS`, a shard per master with the replicas
 * the map lists (opened with `READONLY` when replicas are read from). A shard is named by the first slot
 * its master serves, which a failover keeps, so sync tokens stay meaningful across one. The map is re-read
 * every 5 s, every 500 ms while a master is unreachable, and at once on MOVED or a lost node. Every node is
 * prepared (scope users) on its own: ACLs are per node. The command table is loaded once, from the first
 * node that comes up.
 */
export class ClusterTopology extends EventEmitter implements Topology {
  readonly isSharded = true;
  readonly #options: ClusterOptions;
  readonly #table = new CommandTableSource();
  /** The shard serving each slot. */
  #slots: (Shard | undefined)[] = new Array(SLOTS);
  /** Shards by id, sorted by id. */
  #shards: Shard[] = [];
  readonly #shardsById = new Map<string, Shard>();
  /** Primary-role nodes (masters, and the seeds used for discovery) and replica-role nodes, by address. */
  readonly #primaries = new Map<string, RedisNode>();
  readonly #replicas = new Map<string, RedisNode>();
  #refreshing: Promise<void> | undefined;
  #isUp = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ClusterOptions) {
    super();
    this.#options = options;
    void this.#refreshLoop();
  }

  get isReady(): boolean {
    return this.#table.table !== undefined && this.#shards.some((shard) => shard.primary?.isReady === true);
  }

  /** The first node's failure, masters first: with one reason per node, one stands for all. */
  get failure(): RedisFailure | undefined {
    if (this.isReady) return undefined;
    const nodes = [...this.#shards.map((shard) => shard.primary), ...this.#primaries.values()];
    for (const node of nodes) {
      const failure = node?.own.failure;
      if (failure !== undefined) return failure;
    }
    return undefined;
  }

  get commandTable(): CommandTable | undefined {
    return this.#table.table;
  }

  shardFor(slot: number | undefined): Shard {
    if (slot !== undefined) {
      const shard = this.#slots[slot];
      if (shard?.primary !== undefined) return shard;
      void this.refresh();
      throw new NotSentError(`No master serves slot ${slot}`);
    }
    // Keyless: a master that answers, so one failed shard does not fail PING or TIME.
    const ready = this.#shards.filter((shard) => shard.primary?.isReady === true);
    const candidates = ready.length > 0 ? ready : this.#shards;
    const shard = candidates[Math.floor(Math.random() * candidates.length)];
    if (shard === undefined) {
      void this.refresh();
      throw new NotSentError('No cluster master is known');
    }
    return shard;
  }

  shards(): readonly Shard[] {
    return this.#shards;
  }

  nodeAt(address: string): RedisNode {
    return this.#primary(address);
  }

  moved(slot: number, address: string): void {
    // Trust the redirection now (when the target is a known master) and learn the rest in the background.
    const shard = this.#shards.find((candidate) => candidate.primary?.address === address);
    if (shard !== undefined) this.#slots[slot] = shard;
    void this.refresh();
  }

  setTokenUsers(principals: Iterable<Principal>, sharesServer: boolean): void {
    this.#options.scopeUsers.setTokenUsers(principals, sharesServer);
    for (const node of [...this.#primaries.values(), ...this.#replicas.values()]) void node.refreshUsers();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const shard of this.#shards) shard.stop();
    await Promise.all([...this.#primaries.values(), ...this.#replicas.values()].map((node) => node.close()));
  }

  /** Re-reads the slot map from any reachable node (one refresh at a time). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
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

  async #refresh() {
    const seeds = this.#options.nodes.map(({ host, port }) => `${host}:${port}`);
    const known = this.#shards.flatMap((shard) => (shard.primary ? [shard.primary.address] : []));
    for (const address of new Set([...known, ...seeds])) {
      try {
        const deadline = Date.now() + this.#options.commandTimeoutMs;
        const [reply] = await this.#primary(address).own.send([['CLUSTER', 'SLOTS']], deadline);
        if (this.#closed) return;
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
    // Per master: its first slot (the shard's id), its ranges and the replicas listed with them.
    const masters = new Map<string, { first: number; ranges: [number, number][]; replicas: Set<string> }>();
    for (const range of reply) {
      if (!Array.isArray(range)) continue;
      const [start, end, master, ...replicas] = range as [number, number, Reply[], ...Reply[][]];
      const address = addressOf(master);
      const entry = masters.get(address) ?? { first: start, ranges: [], replicas: new Set<string>() };
      entry.first = Math.min(entry.first, start);
      entry.ranges.push([start, end]);
      const only = this.#options.shard.onlyReplicas;
      for (const replica of replicas) {
        const replicaAddress = addressOf(replica);
        if (only === undefined || only.has(replicaAddress)) entry.replicas.add(replicaAddress);
      }
      masters.set(address, entry);
    }
    const slots: (Shard | undefined)[] = new Array(SLOTS);
    const shards: Shard[] = [];
    const readsFromReplicas = this.#options.shard.readsFromReplicas;
    const wantedReplicas = new Set<string>();
    for (const [address, { first, ranges, replicas }] of masters) {
      const id = String(first);
      let shard = this.#shardsById.get(id);
      if (shard === undefined) {
        shard = new Shard(id, this.#options.shard);
        this.#shardsById.set(id, shard);
      }
      shard.setPrimary(this.#primary(address));
      const replicaNodes = readsFromReplicas ? [...replicas].map((replica) => this.#replica(replica)) : [];
      for (const replica of replicaNodes) wantedReplicas.add(replica.address);
      shard.setReplicas(replicaNodes);
      shards.push(shard);
      for (const [start, end] of ranges) for (let slot = start; slot <= end; slot++) slots[slot] = shard;
    }
    shards.sort((a, b) => Number(a.id) - Number(b.id));
    this.#slots = slots;
    const before = this.#shards.map((shard) => `${shard.id}@${shard.primary?.address}`).join();
    this.#shards = shards;
    for (const [id, shard] of this.#shardsById) {
      if (shards.includes(shard)) continue;
      shard.stop();
      this.#shardsById.delete(id);
    }
    const after = shards.map((shard) => `${shard.id}@${shard.primary?.address}`).join();
    if (before !== after) this.#options.logger.info({ masters: after }, 'cluster topology');
    // Former masters (failed over, removed) and replicas no longer listed get no more commands; seeds stay.
    const keep = new Set([
      ...masters.keys(),
      ...this.#options.nodes.map(({ host, port }) => `${host}:${port}`),
    ]);
    for (const [address, node] of this.#primaries) {
      if (keep.has(address)) continue;
      this.#primaries.delete(address);
      void node.close();
    }
    for (const [address, node] of this.#replicas) {
      if (wantedReplicas.has(address)) continue;
      this.#replicas.delete(address);
      void node.close();
    }
  }

  #updateUp() {
    const up = this.isReady && this.#shards.every((shard) => shard.primary?.isReady === true);
    if (up === this.#isUp) return;
    this.#isUp = up;
    this.emit(up ? 'up' : 'down');
  }

  /** The primary-role node at an address, created (and prepared in the background) on first use. */
  #primary(address: string): RedisNode {
    let node = this.#primaries.get(address);
    if (node === undefined) {
      node = openNode(this.#options, this.#url(address), 'primary', this.#table);
      node.on('down', () => {
        this.#updateUp();
        void this.refresh();
      });
      node.on('up', () => this.#updateUp());
      node.on('reconnecting', () => this.emit('reconnecting'));
      node.own.on('failure', (failure: RedisFailure) => this.emit('failure', failure));
      this.#primaries.set(address, node);
    }
    return node;
  }

  /** The replica-role node at an address: its connections send READONLY. */
  #replica(address: string): RedisNode {
    let node = this.#replicas.get(address);
    if (node === undefined) {
      node = openNode(this.#options, this.#url(address), 'replica', this.#table, { readOnly: true });
      node.on('down', () => void this.refresh());
      this.#replicas.set(address, node);
    }
    return node;
  }

  #url(address: string): string {
    return `${this.#options.tls ? 'rediss' : 'redis'}://${address}`;
  }
}

function addressOf(node: Reply[]): string {
  return `${String(node[0])}:${Number(node[1])}`;
}
