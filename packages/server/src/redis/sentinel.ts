import { EventEmitter } from 'node:events';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../log.js';
import type { Batch, NodeAddress, RedisBackend } from './backend.js';
import type { CommandTable } from './command-table.js';
import { NotSentError, RedisConnection } from './connection.js';
import type { RedisFailure } from './failure.js';
import type { MonitorStream, StopMonitor } from './monitor.js';
import type { NearCache, NearCacheOptions } from './near-cache.js';
import type { ScopeUsers } from './scope-users.js';
import { StandaloneBackend } from './standalone.js';
import type { Subscription, SubscriptionCount, Unsubscribe } from './subscriber.js';
import type { Reply } from './types.js';

/** Options for {@link SentinelBackend}. */
export interface SentinelOptions {
  sentinels: NodeAddress[];
  /** The master's name in the Sentinel configuration (`sentinel monitor <name> ...`). */
  masterName: string;
  /** Password of the Sentinels themselves. @default none */
  sentinelPassword?: string | undefined;
  /** Password of the master and replicas. @default none */
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

/** How often the Sentinels are asked who the master is. */
const POLL_INTERVAL_MS = 500;

/**
 * Redis behind Sentinel: asks the Sentinels who the master is, keeps a standalone backend pointed at it,
 * and follows a failover. The Sentinels are polled every 500 ms (a failover takes Sentinel seconds, so this
 * adds little), which also catches a master that rejoined as a replica. While the master is unreachable,
 * requests fail fast with 503 like any outage; once Sentinel names a new master, the gateway prepares it
 * (command table, scope users: ACLs are not replicated), switches to it and closes the old connections.
 */
export class SentinelBackend extends EventEmitter implements RedisBackend {
  readonly #options: SentinelOptions;
  readonly #sentinels: RedisConnection[];
  #current: StandaloneBackend | undefined;
  #candidate: StandaloneBackend | undefined;
  readonly #timer: NodeJS.Timeout;
  #polling = false;

  constructor(options: SentinelOptions) {
    super();
    this.#options = options;
    const scheme = options.tls ? 'rediss' : 'redis';
    this.#sentinels = options.sentinels.map(
      ({ host, port }) =>
        new RedisConnection({
          url: `${scheme}://${host}:${port}`,
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
    return this.#current?.isReady ?? false;
  }

  get commandTable(): CommandTable | undefined {
    return this.#current?.commandTable;
  }

  get failure(): RedisFailure | undefined {
    if (this.isReady) return undefined;
    const master = this.#candidate?.failure ?? this.#current?.failure;
    if (master !== undefined) return master;
    if (this.#sentinels.some((sentinel) => sentinel.isReady)) {
      return { kind: 'other', reason: 'Sentinel has not named a reachable master yet' };
    }
    const sentinel = this.#sentinels.find((connection) => connection.failure !== undefined)?.failure;
    return sentinel && { ...sentinel, reason: `Sentinel: ${sentinel.reason}` };
  }

  /** The current master's: a new master starts with an empty one. */
  nearCacheFor(): NearCache | undefined {
    return this.#current?.nearCacheFor();
  }

  nearCaches(): NearCache[] {
    return this.#current?.nearCaches() ?? [];
  }

  async pipeline(batch: Batch): Promise<Reply[]> {
    return this.#master().pipeline(batch);
  }

  async transaction(batch: Batch): Promise<Reply[]> {
    return this.#master().transaction(batch);
  }

  async ping(deadline: number): Promise<void> {
    return this.#master().ping(deadline);
  }

  /** On the current master; a failover ends the subscription (onEnd), and the client subscribes again. */
  async subscribe(principal: Principal, subscription: Subscription): Promise<Unsubscribe> {
    return this.#master().subscribe(principal, subscription);
  }

  /** On the current master; a failover ends the stream (the old master's connections close). */
  async monitor(principal: Principal, stream: MonitorStream, deadline: number): Promise<StopMonitor> {
    return this.#master().monitor(principal, stream, deadline);
  }

  scriptsNeedAdmin(principal: Principal): boolean {
    return this.#options.scopeUsers.scriptsNeedAdmin(principal);
  }

  setTokenUsers(principals: Iterable<Principal>, sharesServer = false): void {
    this.#current?.setTokenUsers(principals, sharesServer);
    if (this.#current === undefined) this.#options.scopeUsers.setTokenUsers(principals, sharesServer);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all([
      this.#current?.close(),
      this.#candidate?.close(),
      ...this.#sentinels.map((sentinel) => sentinel.close()),
    ]);
  }

  #master(): StandaloneBackend {
    if (this.#current === undefined) throw new NotSentError('Sentinel has not named a master yet');
    return this.#current;
  }

  /** Asks the Sentinels for the master's address and switches when it changed. */
  async #poll() {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const address = await this.#askSentinels();
      if (address === undefined) return;
      const wanted = `${address.host}:${address.port}`;
      if (this.#current?.address === wanted || this.#candidate?.address === wanted) return;
      this.#switchTo(address);
    } finally {
      this.#polling = false;
    }
  }

  async #askSentinels(): Promise<NodeAddress | undefined> {
    for (const sentinel of this.#sentinels) {
      if (!sentinel.isReady) continue;
      try {
        const [reply] = await sentinel.send(
          [['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.#options.masterName]],
          Date.now() + this.#options.commandTimeoutMs,
        );
        if (Array.isArray(reply) && reply.length === 2) {
          return { host: String(reply[0]), port: Number(String(reply[1])) };
        }
      } catch {
        // Ask the next Sentinel.
      }
    }
    return undefined;
  }

  /** Connects to the new master and makes it current once it is up (and prepared). */
  #switchTo(address: NodeAddress) {
    const { logger, tls } = this.#options;
    logger.warn(
      { master: `${address.host}:${address.port}`, previous: this.#current?.address },
      'Sentinel names a new master',
    );
    void this.#candidate?.close();
    const candidate = new StandaloneBackend({
      ...this.#options,
      url: `${tls ? 'rediss' : 'redis'}://${address.host}:${address.port}`,
    });
    this.#candidate = candidate;
    candidate.on('failure', (failure: RedisFailure) => this.emit('failure', failure));
    candidate.on('up', () => {
      if (this.#candidate !== candidate) return;
      const previous = this.#current;
      this.#current = candidate;
      this.#candidate = undefined;
      candidate.on('down', () => this.emit('down'));
      candidate.on('reconnecting', () => this.emit('reconnecting'));
      candidate.on('up', () => this.emit('up'));
      this.emit('up');
      // In-flight commands on the old master finish or fail on their own; nothing new goes there.
      void previous?.close();
    });
  }
}
