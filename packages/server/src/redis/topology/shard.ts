import type { Logger } from '../../log.js';
import { NotSentError } from '../connection.js';
import type { NearCache } from '../near-cache.js';
import type { RedisNode } from '../node.js';
import { OffsetHistory, parseRole } from './replication.js';

/** How a shard chooses the node for reads. */
export interface ShardOptions {
  /** CACHEGATE_READ_FROM=replicas: read-only batches may go to a replica that caught up with the caller. */
  readonly readsFromReplicas: boolean;
  /** A replica further behind its primary than this is skipped (CACHEGATE_REPLICA_MAX_LAG_MS). */
  readonly maxLagMs: number;
  /**
   * Sentinel and Cluster: read only from these of the replicas they announce (`host:port`, as announced;
   * CACHEGATE_REDIS_REPLICAS). @default every replica
   */
  readonly onlyReplicas?: ReadonlySet<string> | undefined;
  readonly logger: Logger;
}

/** One node as health and metrics show it. */
export interface NodeStatus {
  /** `host:port`: only for /metrics, which needs the main admin token. */
  readonly address: string;
  readonly role: 'primary' | 'replica';
  /** The shard's id, as in sync tokens: `0`, or the first hash slot of a Cluster shard. */
  readonly shard: string;
  /** Connected and prepared; for a replica, also linked to its primary and within the lag bound. */
  readonly isUp: boolean;
  /** Replication bytes the replica has not applied yet (replicas whose offset is known). */
  readonly lagBytes?: number;
  /** How long the replica has been missing the oldest write it has not applied. */
  readonly lagSeconds?: number;
  /** Read-only batches sent here with CACHEGATE_READ_FROM=replicas (a primary's: those no replica could take). */
  readonly reads: number;
  /** The near cache of a primary, with CACHEGATE_NEAR_CACHE=on. */
  readonly nearCache?: NearCache;
}

/** How often a shard asks its nodes for their replication offsets (ROLE). */
export const POLL_INTERVAL_MS = 100;
/**
 * Reads stay on the replica whose turn it is until it has this many more commands waiting than the least
 * busy one: light reads keep leaving in one write, heavy ones spread over every replica.
 */
const BALANCE_SLACK = 16;
/** A replica that has not answered ROLE for this long is skipped (hung, or too busy to serve reads). */
const STALL_MS = 1000;
/**
 * A read that every replica seems behind waits at most this long for one to catch up, asking their offsets
 * again as long as they advance; then it goes to the primary.
 */
const CATCH_UP_WAIT_MS = 50;

/** A replica and what it last said of its replication. */
class Replica {
  /** The replication offset it has applied; -1 while unknown (not asked yet, or its link is down). */
  applied = -1;
  /** When it last answered ROLE. */
  answeredAt = 0;
  /** Read-only batches sent to it. */
  reads = 0;
  /** Probes sent so far: a probe numbered past what a read saw was sent after the read arrived. */
  sent = 0;
  #probe: Promise<void> | undefined;

  constructor(readonly node: RedisNode) {}

  /**
   * Asks the replica for its offset, unless a probe sent after the `after`-th is on its way (then waits for
   * that one: reads arriving together share one). Never rejects: a replica that does not answer keeps its
   * last offset and soon counts as stalled.
   */
  probe(after: number, deadline: number): Promise<void> {
    if (this.#probe !== undefined && this.sent > after) return this.#probe;
    if (!this.node.isReady) {
      this.applied = -1;
      return Promise.resolve();
    }
    this.sent++;
    const probe = this.node.own.send([['ROLE']], deadline).then(
      ([reply]) => {
        const role = parseRole(reply);
        // A replica promoted under us answers as a primary: not a replica to read from until the topology says so.
        this.applied = role?.kind === 'replica' ? role.offset : -1;
        this.answeredAt = Date.now();
      },
      () => undefined,
    );
    this.#probe = probe;
    void probe.finally(() => {
      if (this.#probe === probe) this.#probe = undefined;
    });
    return probe;
  }
}

/**
 * One primary and its replicas: a whole Redis in standalone and Sentinel mode, a set of hash slots in a
 * Cluster. It answers which of its nodes runs a batch: the primary, or for a read-only batch a replica that
 * is up, linked, within the lag bound and has applied the caller's sync point (decision 0021). It learns the
 * offsets by asking every node `ROLE` every 100 ms on the node's own connection; a read that finds every
 * replica behind asks again, and waits (at most 50 ms) while one catches up, before it goes to the primary.
 */
export class Shard {
  readonly history = new OffsetHistory();
  #primary: RedisNode | undefined;
  readonly #replicas = new Map<RedisNode, Replica>();
  /** The same replicas, as a list for the hot path. */
  #list: Replica[] = [];
  /** Where the search for a replica starts; it moves on once per event-loop turn (see #pick). */
  #next = 0;
  #isTurning = false;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  /** Read-only batches the primary took because no replica could. */
  #primaryReads = 0;

  constructor(
    /** The shard's name in sync tokens. */
    readonly id: string,
    private readonly options: ShardOptions,
  ) {}

  get primary(): RedisNode | undefined {
    return this.#primary;
  }

  /** The replica nodes, as last set. */
  get replicas(): RedisNode[] {
    return [...this.#replicas.keys()];
  }

  /** Points the shard at a (new) primary; a new primary's offsets are a new history. */
  setPrimary(node: RedisNode | undefined): void {
    if (node === this.#primary) return;
    this.#primary = node;
    this.history.reset();
  }

  /** The replicas to read from; those already known keep what they said. */
  setReplicas(nodes: readonly RedisNode[]): void {
    const wanted = new Set(nodes);
    for (const node of this.#replicas.keys()) if (!wanted.has(node)) this.#replicas.delete(node);
    for (const node of nodes) if (!this.#replicas.has(node)) this.#replicas.set(node, new Replica(node));
    this.#list = [...this.#replicas.values()];
    if (this.options.readsFromReplicas && this.#replicas.size > 0) this.#start();
  }

  /**
   * The node that runs a batch: the primary, unless the batch only reads, replicas are read from, and one
   * has applied `required` (the caller's offset for this shard; +Infinity: unknown, the primary only).
   * A promise when every usable replica seemed behind and a fresh offset is being asked for.
   * @throws {NotSentError} when the shard has no primary (a failover under way).
   */
  nodeFor(isRead: boolean, required: number, deadline: number): RedisNode | Promise<RedisNode> {
    if (!isRead || !this.options.readsFromReplicas) return this.#primaryNode();
    if (this.#replicas.size === 0 || required === Number.POSITIVE_INFINITY) return this.#primaryRead();
    const now = Date.now();
    const chosen = this.#pick(required, now);
    if (chosen !== undefined) return chosen;
    const behind = this.#list.filter((replica) => this.#isUsable(replica, now));
    if (behind.length === 0) return this.#primaryRead();
    return this.#afterCatchingUp(behind, required, Math.min(deadline, now + CATCH_UP_WAIT_MS));
  }

  /** A write reached `offset` on the primary (its ROLE after the batch): a sample of the history. */
  noteReached(offset: number): void {
    this.history.record(offset, Date.now());
  }

  /** Every node of the shard, for health and metrics. */
  statuses(): NodeStatus[] {
    const statuses: NodeStatus[] = [];
    const primary = this.#primary;
    if (primary !== undefined) {
      statuses.push({
        address: primary.address,
        role: 'primary',
        shard: this.id,
        isUp: primary.isReady,
        reads: this.#primaryReads,
        ...(primary.nearCache === undefined ? {} : { nearCache: primary.nearCache }),
      });
    }
    const now = Date.now();
    for (const replica of this.#replicas.values()) {
      const known = replica.applied >= 0 && this.history.latest >= 0;
      statuses.push({
        address: replica.node.address,
        role: 'replica',
        shard: this.id,
        isUp: this.#isUsable(replica, now),
        reads: replica.reads,
        ...(known
          ? {
              lagBytes: Math.max(0, this.history.latest - replica.applied),
              lagSeconds: this.history.lagMs(replica.applied, now) / 1000,
            }
          : {}),
      });
    }
    return statuses;
  }

  /** Stops asking the nodes for offsets. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #primaryNode(): RedisNode {
    if (this.#primary === undefined) throw new NotSentError('No primary is known for this shard yet');
    return this.#primary;
  }

  #primaryRead(): RedisNode {
    const primary = this.#primaryNode();
    this.#primaryReads++;
    return primary;
  }

  /** Up, linked to its primary, answering, and within the lag bound. */
  #isUsable(replica: Replica, now: number): boolean {
    return (
      replica.node.isReady &&
      replica.applied >= 0 &&
      now - replica.answeredAt <= STALL_MS &&
      this.history.lagMs(replica.applied, now) <= this.options.maxLagMs
    );
  }

  /**
   * A usable replica that has applied `required`. Replicas take turns by event-loop turn, not by read: the
   * reads of one turn go to one replica and leave in one write (see RedisConnection), as they would to the
   * primary, where alternating would split them into a write per replica. Only when that replica has
   * BALANCE_SLACK more commands waiting than another (reads that cost Redis more than the gateway) does the
   * least busy one take the read.
   */
  #pick(required: number, now: number): RedisNode | undefined {
    const replicas = this.#list;
    let chosen: Replica | undefined;
    let idlest: Replica | undefined;
    for (let i = 0; i < replicas.length; i++) {
      const replica = replicas[(this.#next + i) % replicas.length] as Replica;
      if (replica.applied < required || !this.#isUsable(replica, now)) continue;
      chosen ??= replica;
      if (idlest === undefined || replica.node.queued < idlest.node.queued) idlest = replica;
    }
    if (chosen === undefined || idlest === undefined) return undefined;
    if (chosen.node.queued > idlest.node.queued + BALANCE_SLACK) chosen = idlest;
    chosen.reads++;
    if (!this.#isTurning) {
      this.#isTurning = true;
      setImmediate(() => {
        this.#isTurning = false;
        this.#next = (this.#next + 1) % Math.max(1, this.#list.length);
      });
    }
    return chosen.node;
  }

  /**
   * Asks the replicas for their offsets again (probes sent after this read arrived), and again while one
   * advances and time is left: a replica streaming the caller's write takes the read a moment later; one
   * held back or stuck gives way to the primary after one round trip.
   */
  async #afterCatchingUp(replicas: Replica[], required: number, deadline: number): Promise<RedisNode> {
    let seen = replicas.map((replica) => replica.sent);
    let before = replicas.map((replica) => replica.applied);
    for (;;) {
      await Promise.all(replicas.map((replica, i) => replica.probe(seen[i] as number, deadline)));
      const chosen = this.#pick(required, Date.now());
      if (chosen !== undefined) return chosen;
      // Worth another look only for a replica that moves and is about as far behind as the wait is long.
      const now = Date.now();
      const isAdvancing = replicas.some(
        (replica, i) =>
          replica.applied > (before[i] as number) &&
          this.history.lagMs(replica.applied, now) <= CATCH_UP_WAIT_MS,
      );
      if (!isAdvancing || Date.now() >= deadline) return this.#primaryRead();
      seen = replicas.map((replica) => replica.sent);
      before = replicas.map((replica) => replica.applied);
    }
  }

  #start() {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.#poll(), POLL_INTERVAL_MS);
    this.#timer.unref();
    void this.#poll();
  }

  /**
   * Asks the primary and every replica for their offsets. The primary's answer also advances its near
   * cache's coherence: after a PING on the invalidation connection, every invalidation of a write up to that
   * offset has arrived.
   */
  async #poll() {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const now = Date.now();
      const deadline = now + STALL_MS;
      const primary = this.#primary;
      const primaryProbe =
        primary?.isReady === true
          ? primary.own.send([['ROLE']], deadline).then(
              ([reply]) => {
                const role = parseRole(reply);
                if (role?.kind !== 'primary' || this.#primary !== primary) return;
                this.history.record(role.offset, Date.now());
                void primary.nearCache?.barrier(deadline, role.offset);
              },
              () => undefined,
            )
          : undefined;
      await Promise.all([
        primaryProbe,
        ...[...this.#replicas.values()].map((replica) => replica.probe(replica.sent, deadline)),
      ]);
    } finally {
      this.#polling = false;
    }
  }
}
