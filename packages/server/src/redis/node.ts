import { EventEmitter } from 'node:events';
import { type RedisUser, userKey } from '../auth/database.js';
import type { Principal } from '../auth/principal.js';
import type { CommandTable } from './command-table.js';
import { type ConnectionOptions, RedisConnection } from './connection.js';
import { type MonitorStream, openMonitor, type StopMonitor } from './monitor.js';
import { NearCache, type NearCacheOptions } from './near-cache.js';
import { ErrorReply } from './resp.js';
import type { ScopeUsers } from './scope-users.js';
import { Subscriber, type SubscriptionCount } from './subscriber.js';

/** Options for {@link RedisNode}. */
export interface NodeOptions extends Omit<ConnectionOptions, 'user' | 'startAfter'> {
  scopeUsers: ScopeUsers;
  /** The command table, loaded through this node's own connection unless the backend already has it. */
  commandTable(own: RedisConnection): Promise<CommandTable>;
  /** Keep a near cache of this server's reads (CACHEGATE_NEAR_CACHE). @default none */
  nearCache?: NearCacheOptions | undefined;
  /** Where open subscriptions are counted. @default a count of this node's own */
  subscriptions?: SubscriptionCount | undefined;
}

/** How long a SCRIPT KILL may wait: Redis reads it only once the script passed `busy-reply-threshold`. */
const KILL_TIMEOUT_MS = 60_000;

/**
 * One Redis server as the gateway uses it:
 * - its own connection, with the configured credentials: admin traffic, topology, and preparing the node
 *   (command table, scope users) every time it comes up;
 * - a connection per Redis user that traffic runs as (the scope users, tokens-file users), opened on first
 *   use once the node is prepared;
 * - a control connection, idle and logged in ahead of need, that kills a script or function which outlived
 *   the command timeout: the connection it runs on is stuck behind it;
 * - a pub/sub connection per user;
 * - a MONITOR connection per monitor stream, opened for it and closed with it;
 * - with the near cache on, its two tracking connections (see NearCache), set up once the node is prepared.
 * Emits `up` once prepared, `down` when its own connection is lost, `reconnecting` before each attempt.
 */
export class RedisNode extends EventEmitter {
  readonly own: RedisConnection;
  readonly nearCache: NearCache | undefined;
  readonly #options: NodeOptions;
  readonly #connections = new Map<string, RedisConnection>();
  /** The same by principal, for the hot path; rebuilt when the scope users change. */
  #byPrincipal = new WeakMap<Principal, RedisConnection>();
  #generation = -1;
  readonly #subscribers = new Map<string, Subscriber>();
  /** Open monitor streams, each as the function that ends it and tells its reader. */
  readonly #monitors = new Set<() => void>();
  #control: RedisConnection | undefined;
  #isPrepared = false;
  #warnedBusyThreshold = false;
  readonly #firstPrepared: Promise<void>;
  #markPrepared: () => void = () => undefined;

  constructor(options: NodeOptions) {
    super();
    this.#options = options;
    this.#firstPrepared = new Promise((done) => {
      this.#markPrepared = done;
    });
    this.own = this.#watch(new RedisConnection(options));
    this.nearCache = options.nearCache && new NearCache(options, options.nearCache);
    this.own.on('up', () => void this.#prepare());
    this.own.on('down', () => {
      this.#isPrepared = false;
      this.emit('down');
    });
    this.own.on('reconnecting', () => this.emit('reconnecting'));
  }

  get address(): string {
    return this.own.address;
  }

  /** Commands waiting for replies on its command connections: how busy the server is with this gateway. */
  get queued(): number {
    let queued = this.own.queued;
    for (const connection of this.#connections.values()) queued += connection.queued;
    return queued;
  }

  get isReady(): boolean {
    return this.#isPrepared && this.own.isReady;
  }

  /** The connection `principal`'s commands run on: the gateway's own, or its Redis user's. */
  connectionFor(principal: Principal): RedisConnection {
    const { scopeUsers } = this.#options;
    if (scopeUsers.generation !== this.#generation) {
      this.#generation = scopeUsers.generation;
      this.#byPrincipal = new WeakMap();
    }
    const known = this.#byPrincipal.get(principal);
    if (known !== undefined) return known;
    const user = scopeUsers.userFor(principal);
    let connection = this.own;
    if (user !== undefined) {
      const id = userKey(user);
      connection = this.#connections.get(id) ?? this.#open(id, user);
    }
    this.#byPrincipal.set(principal, connection);
    return connection;
  }

  #open(id: string, user: RedisUser): RedisConnection {
    const connection = this.#watch(
      new RedisConnection({ ...this.#options, user, startAfter: this.#firstPrepared }),
    );
    this.#connections.set(id, connection);
    return connection;
  }

  /**
   * The pub/sub connection `principal` listens on: the gateway's own, since the gateway names every channel
   * and pattern it subscribes to (scope users could not PSUBSCRIBE under their fenced channel rules, which
   * Redis matches literally for patterns); a tokens-file Redis user's own, so that its channel rules apply.
   */
  subscriber(principal: Principal): Subscriber {
    const user = principal.redisUser === undefined ? undefined : this.#options.scopeUsers.userFor(principal);
    const id = userKey(user);
    let subscriber = this.#subscribers.get(id);
    if (subscriber === undefined) {
      subscriber = new Subscriber({ ...this.#options, user }, this.#options.subscriptions);
      this.#subscribers.set(id, subscriber);
    }
    return subscriber;
  }

  /**
   * Opens a MONITOR stream on a connection of its own, as `principal`'s Redis user (so Redis's ACLs
   * apply), never a shared one. `onEnd` runs when the connection is lost or the node closes.
   */
  async monitor(principal: Principal, stream: MonitorStream, deadline: number): Promise<StopMonitor> {
    const user = this.#options.scopeUsers.userFor(principal);
    let end: () => void = () => undefined;
    const stop = await openMonitor({ ...this.#options, user }, stream.listener, () => end(), deadline);
    end = () => {
      this.#monitors.delete(end);
      stop();
      stream.onEnd();
    };
    this.#monitors.add(end);
    return () => {
      this.#monitors.delete(end);
      stop();
    };
  }

  /** Re-applies the users (new tokens-file users after SIGHUP) on a node that is up. */
  async refreshUsers(): Promise<void> {
    if (!this.isReady) return;
    await this.#options.scopeUsers.provision(this.own, await this.#options.commandTable(this.own));
  }

  async close(): Promise<void> {
    for (const subscriber of this.#subscribers.values()) subscriber.close();
    for (const end of [...this.#monitors]) end();
    await this.nearCache?.close();
    const connections = [this.own, ...this.#connections.values(), ...(this.#control ? [this.#control] : [])];
    await Promise.all(connections.map((connection) => connection.close()));
  }

  /** Loads the command table and provisions the scope users; the node is ready once both are done. */
  async #prepare() {
    try {
      const table = await this.#options.commandTable(this.own);
      await this.#options.scopeUsers.provision(this.own, table);
      if (!this.own.isReady) return;
      await this.#checkBusyThreshold();
      // Logged in ahead of need: while a script runs, Redis reads nothing from a new connection (not even
      // its AUTH) until busy-reply-threshold, by when a kill sent through it would have timed out.
      this.#control ??= new RedisConnection(this.#options);
      this.#isPrepared = true;
      this.#markPrepared();
      this.nearCache?.start();
      // Connections that could not log in while the users were missing (a restarted Redis) retry now.
      for (const connection of this.#connections.values()) connection.reconnectNow();
      this.emit('up');
    } catch (error) {
      this.#options.logger.error(
        { err: error, redis: this.address },
        'could not prepare the Redis node; retrying',
      );
      setTimeout(() => {
        if (this.own.isReady && !this.#isPrepared) void this.#prepare();
      }, 1000).unref();
    }
  }

  /**
   * Redis reads a SCRIPT KILL only once a script has run for `busy-reply-threshold`; past the command
   * timeout, every caller waits that long. Said once, when the gateway may read the setting.
   */
  async #checkBusyThreshold() {
    if (this.#warnedBusyThreshold) return;
    this.#warnedBusyThreshold = true;
    const deadline = Date.now() + this.#options.commandTimeoutMs;
    const [reply] = await this.own.send([['CONFIG', 'GET', 'busy-reply-threshold']], deadline);
    const thresholdMs = Array.isArray(reply) ? Number(String(reply[1])) : Number.NaN;
    if (thresholdMs > this.#options.commandTimeoutMs) {
      this.#options.logger.warn(
        { redis: this.address, busyReplyThresholdMs: thresholdMs },
        'a runaway script stalls every caller until Redis busy-reply-threshold passes, longer than CACHEGATE_COMMAND_TIMEOUT_MS; lower it to bound that',
      );
    }
  }

  #watch(connection: RedisConnection): RedisConnection {
    connection.on('busy-script', (kind: 'script' | 'function') => this.#kill(kind));
    return connection;
  }

  /** SCRIPT KILL / FUNCTION KILL from the control connection, which nothing else uses. */
  #kill(kind: 'script' | 'function') {
    this.#control ??= new RedisConnection(this.#options);
    const command = kind === 'script' ? 'SCRIPT' : 'FUNCTION';
    const log = this.#options.logger;
    this.#control.send([[command, 'KILL']], Date.now() + KILL_TIMEOUT_MS).then(
      ([reply]) => {
        if (reply instanceof ErrorReply)
          log.warn({ redis: this.address, reply: reply.message }, `${command} KILL refused`);
        else log.warn({ redis: this.address }, `killed a ${kind} that ran past CACHEGATE_COMMAND_TIMEOUT_MS`);
      },
      (error: Error) => log.warn({ redis: this.address, err: error }, `${command} KILL failed`),
    );
  }
}
