import { EventEmitter } from 'node:events';
import type { Principal } from '../auth/principal.js';
import { argsOf, type Batch, type RedisBackend } from './backend.js';
import { CommandTable } from './command-table.js';
import { type ConnectionOptions, type RedisConnection, redactUrl } from './connection.js';
import type { RedisFailure } from './failure.js';
import type { MonitorStream, StopMonitor } from './monitor.js';
import type { NearCache, NearCacheOptions } from './near-cache.js';
import { RedisNode } from './node.js';
import { replyAsText } from './resp.js';
import type { ScopeUsers } from './scope-users.js';
import type { Subscription, SubscriptionCount, Unsubscribe } from './subscriber.js';
import type { Reply } from './types.js';

const PREPARING: RedisFailure = {
  kind: 'other',
  reason: 'connected; loading the command table and the Redis users',
};

/** Options for {@link StandaloneBackend}. */
export interface StandaloneOptions extends Omit<ConnectionOptions, 'user' | 'startAfter'> {
  scopeUsers: ScopeUsers;
  nearCache?: NearCacheOptions | undefined;
  /** Where open subscriptions are counted. @default per node */
  subscriptions?: SubscriptionCount | undefined;
}

/**
 * A single Redis server, one {@link RedisNode}; also the building block of the Sentinel backend, which
 * points one at the current master. The command table is reloaded every time the server comes back, so it
 * follows an upgrade in place.
 */
export class StandaloneBackend extends EventEmitter implements RedisBackend {
  commandTable: CommandTable | undefined;
  readonly #node: RedisNode;
  readonly #scopeUsers: ScopeUsers;

  constructor(options: StandaloneOptions) {
    super();
    this.#scopeUsers = options.scopeUsers;
    this.#node = new RedisNode({ ...options, commandTable: (own) => this.#loadCommandTable(own) });
    this.#node.on('up', () => {
      options.logger.info({ redis: redactUrl(options.url) }, 'connected to Redis');
      this.emit('up');
    });
    this.#node.on('down', () => this.emit('down'));
    this.#node.on('reconnecting', () => this.emit('reconnecting'));
    this.#node.own.on('failure', (failure: RedisFailure) => this.emit('failure', failure));
  }

  get isReady(): boolean {
    return this.#node.isReady && this.commandTable !== undefined;
  }

  get failure(): RedisFailure | undefined {
    if (this.isReady) return undefined;
    // Connected but not prepared yet (command table, scope users): nothing failed, it is on its way.
    return this.#node.own.isReady ? PREPARING : this.#node.own.failure;
  }

  nearCacheFor(): NearCache | undefined {
    return this.#node.nearCache;
  }

  nearCaches(): NearCache[] {
    return this.#node.nearCache === undefined ? [] : [this.#node.nearCache];
  }

  /** `host:port` of the server. */
  get address(): string {
    return this.#node.address;
  }

  pipeline(batch: Batch): Promise<Reply[]> {
    return this.#node
      .connectionFor(batch.principal)
      .send(argsOf(batch), batch.deadline, batch.form, batch.reservation);
  }

  transaction(batch: Batch): Promise<Reply[]> {
    return this.#node
      .connectionFor(batch.principal)
      .transaction(argsOf(batch), batch.deadline, batch.form, batch.reservation);
  }

  subscribe(principal: Principal, subscription: Subscription): Promise<Unsubscribe> {
    return this.#node.subscriber(principal).subscribe(subscription);
  }

  monitor(principal: Principal, stream: MonitorStream, deadline: number): Promise<StopMonitor> {
    return this.#node.monitor(principal, stream, deadline);
  }

  async ping(deadline: number): Promise<void> {
    await this.#node.own.send([['PING']], deadline);
  }

  scriptsNeedAdmin(principal: Principal): boolean {
    return this.#scopeUsers.scriptsNeedAdmin(principal);
  }

  setTokenUsers(principals: Iterable<Principal>, sharesServer = false): void {
    this.#scopeUsers.setTokenUsers(principals, sharesServer);
    void this.#node.refreshUsers();
  }

  close(): Promise<void> {
    return this.#node.close();
  }

  async #loadCommandTable(own: RedisConnection): Promise<CommandTable> {
    const [reply] = await own.send([['COMMAND']], Date.now() + 10_000);
    this.commandTable = CommandTable.fromCommandReply(replyAsText(reply ?? null));
    return this.commandTable;
  }
}
