import { EventEmitter } from 'node:events';
import { type DatabaseSettings, DEFAULT_DATABASE } from '../auth/database.js';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../log.js';
import { type Batch, type Executed, openHolding, ping, type RedisBackend } from './backend.js';
import { NotSentError } from './connection.js';
import type { MonitorStream, StopMonitor } from './monitor.js';
import type { Subscription, Unsubscribe } from './subscriber.js';
import type { NodeStatus } from './topology/shard.js';

/**
 * The state of a tokens-file database (`cachegate_database_state`; `/health` counts them): `idle` (no
 * connection: unused lately, which is no failure), `connecting` (first use under way), `up`, or `down`
 * (connected before, or tried, and failing).
 */
export const DATABASE_STATUSES = ['idle', 'connecting', 'up', 'down'] as const;
export type DatabaseStatus = (typeof DATABASE_STATUSES)[number];

/** How many databases are in each state (every state present, 0 included). */
export function countByStatus(statuses: { status: DatabaseStatus }[]): Record<DatabaseStatus, number> {
  const counts = Object.fromEntries(DATABASE_STATUSES.map((status) => [status, 0])) as Record<
    DatabaseStatus,
    number
  >;
  for (const { status } of statuses) counts[status] += 1;
  return counts;
}

/** `host:port` of a Redis URL, lower case, the default port filled in; undefined without one. */
function serverOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const parsed = new URL(url);
  return `${parsed.hostname.toLowerCase()}:${parsed.port || '6379'}`;
}

/** The name of the database `principal`'s commands go to: its tokens-file database, or `default`. */
export function databaseName(principal: Principal): string {
  return principal.database?.name ?? DEFAULT_DATABASE;
}

/** Options for {@link Databases}. */
export interface DatabasesOptions {
  /** The main Redis: connected at start, never closed for idleness. */
  main: RedisBackend;
  /** The main Redis's URL when it is one server (standalone), to tell which databases share it. */
  mainUrl?: string | undefined;
  /** Opens the backend of a tokens-file database (standalone). */
  open(database: DatabaseSettings): RedisBackend;
  /** A tokens-file database is closed after this long without traffic; 0: never. */
  idleMs: number;
  /** How long the first request may wait for a lazily opened database to connect. */
  commandTimeoutMs: number;
  logger: Logger;
}

/**
 * Every Redis the gateway serves: the main one, and the databases that tokens-file entries name with
 * `redisUrl` (docs/decisions/0013-many-databases.md). The executor asks it, per batch, for the backend of the
 * batch's principal; a tokens-file database is connected on first use, closed when idle, and replaced or
 * closed (after its in-flight batches) when a reload changes or removes it. A database that is down fails
 * only its own tokens' requests.
 */
export class Databases {
  readonly main: RedisBackend;
  readonly #options: DatabasesOptions;
  readonly #byName = new Map<string, Database>();

  constructor(options: DatabasesOptions) {
    this.main = options.main;
    this.#options = options;
  }

  /**
   * The backend for `principal`: the main Redis, or its database. Synchronous unless the database is
   * connecting for its first request; then a promise that settles once it is up, found down, or at
   * `deadline`, whichever comes first (the caller checks `isReady`). Undefined when the principal's database
   * is no longer configured (a reload removed or changed it after the request was authenticated).
   */
  resolve(
    principal: Principal,
    deadline: number,
  ): RedisBackend | undefined | Promise<RedisBackend | undefined> {
    const settings = principal.database;
    if (settings === undefined) return this.main;
    const database = this.#byName.get(settings.name);
    if (database === undefined || database.settings.key !== settings.key) return undefined;
    return database.acquire(deadline);
  }

  /**
   * Applies the tokens (at start and on SIGHUP): each backend gets its own tokens' Redis users; new
   * databases are registered (not connected: that waits for their first request); a database whose
   * settings changed, or that no token names any more, is closed once its in-flight batches are done.
   */
  setTokens(principals: Iterable<Principal>): void {
    const main: Principal[] = [];
    const groups = new Map<string, { settings: DatabaseSettings; principals: Principal[] }>();
    for (const principal of principals) {
      const settings = principal.database;
      if (settings === undefined) {
        main.push(principal);
        continue;
      }
      const group = groups.get(settings.name) ?? { settings, principals: [] };
      group.principals.push(principal);
      groups.set(settings.name, group);
    }
    // Databases of one server: their users may not COPY (its DB option would reach the others).
    const servers = new Map<string, number>();
    const count = (url: string | undefined) => {
      const server = serverOf(url);
      if (server !== undefined) servers.set(server, (servers.get(server) ?? 0) + 1);
    };
    count(this.#options.mainUrl);
    for (const group of groups.values()) count(group.settings.url);
    const isShared = (url: string | undefined) => (servers.get(serverOf(url) ?? '') ?? 0) > 1;
    this.main.setTokenUsers(main, isShared(this.#options.mainUrl));
    const log = this.#options.logger;
    for (const [name, database] of this.#byName) {
      const group = groups.get(name);
      if (group !== undefined && group.settings.key === database.settings.key) continue;
      this.#byName.delete(name);
      database.retire();
      log.info(
        { database: name },
        group === undefined
          ? 'database no longer configured: closing it after its in-flight requests'
          : 'database settings changed: the old connection closes after its in-flight requests',
      );
    }
    for (const [name, group] of groups) {
      let database = this.#byName.get(name);
      if (database === undefined) {
        database = new Database(group.settings, this.#options);
        this.#byName.set(name, database);
        log.info({ database: name }, 'database configured; it connects on first use');
      }
      database.setTokenUsers(group.principals, isShared(group.settings.url));
    }
  }

  /** The tokens-file databases and their states, by name (for `/health` and the metrics). */
  statuses(): { name: string; status: DatabaseStatus }[] {
    return [...this.#byName.values()].map((database) => ({
      name: database.settings.name,
      status: database.status,
    }));
  }

  /** Closes every database and the main Redis, each after the replies it is waiting for. */
  async close(): Promise<void> {
    const databases = [...this.#byName.values()];
    this.#byName.clear();
    await Promise.all([this.main.close(), ...databases.map((database) => database.close())]);
  }
}

/**
 * One tokens-file database: a standalone backend opened on first use and dropped when idle, behind the
 * RedisBackend interface so the executor uses it like the main one. It counts in-flight batches and live
 * streams (subscriptions, MONITOR): neither is cut by an idle close, and a retired database closes after its
 * last batch.
 */
class Database extends EventEmitter implements RedisBackend {
  readonly settings: DatabaseSettings;
  readonly #options: DatabasesOptions;
  #backend: RedisBackend | undefined;
  /** Set while the backend's first connection is under way: settles when it is up or has failed. */
  #connecting: Promise<void> | undefined;
  #principals: Principal[] = [];
  #sharesServer = false;
  #batches = 0;
  #streams = 0;
  #lastUsed = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #isRetired = false;

  constructor(settings: DatabaseSettings, options: DatabasesOptions) {
    super();
    this.settings = settings;
    this.#options = options;
  }

  get status(): DatabaseStatus {
    if (this.#backend === undefined) return 'idle';
    if (this.#backend.isReady) return 'up';
    return this.#connecting === undefined ? 'down' : 'connecting';
  }

  get isReady(): boolean {
    return this.#backend?.isReady ?? false;
  }

  get commandTable() {
    return this.#backend?.commandTable;
  }

  get failure() {
    return this.#backend?.failure;
  }

  /** Tokens-file databases keep no near cache: CACHEGATE_NEAR_CACHE_MAX_BYTES is one budget per process. */
  nearCacheFor(): undefined {
    return undefined;
  }

  /** Its nodes are not the main Redis's: health and metrics count databases by state instead. */
  nodes(): NodeStatus[] {
    return [];
  }

  /** This database, opened if it was not: at once unless its first connection is under way. */
  acquire(deadline: number): RedisBackend | Promise<RedisBackend> {
    this.#lastUsed = Date.now();
    if (this.#backend === undefined) this.#open();
    const connecting = this.#connecting;
    if (connecting === undefined) return this;
    return new Promise((done) => {
      const timer = setTimeout(() => done(this), Math.max(0, deadline - Date.now()));
      void connecting.then(() => {
        clearTimeout(timer);
        done(this);
      });
    });
  }

  run(batch: Batch): Promise<Executed> {
    return this.#track((backend) => backend.run(batch));
  }

  async subscribe(principal: Principal, subscription: Subscription): Promise<Unsubscribe> {
    const backend = this.#backend;
    if (backend === undefined) throw this.#closedError();
    return openHolding(
      (ended) => backend.subscribe(principal, { ...subscription, onEnd: ended }),
      subscription.onEnd,
      this.#streamStarted(),
    );
  }

  async monitor(principal: Principal, stream: MonitorStream, deadline: number): Promise<StopMonitor> {
    const backend = this.#backend;
    if (backend === undefined) throw this.#closedError();
    return openHolding(
      (ended) => backend.monitor(principal, { ...stream, onEnd: ended }, deadline),
      stream.onEnd,
      this.#streamStarted(),
    );
  }

  scriptsNeedAdmin(principal: Principal): boolean {
    return this.#backend?.scriptsNeedAdmin(principal) ?? true;
  }

  setTokenUsers(principals: Iterable<Principal>, sharesServer = false): void {
    this.#principals = [...principals];
    this.#sharesServer = sharesServer;
    this.#backend?.setTokenUsers(this.#principals, sharesServer);
  }

  /** Taken out of service by a reload: closes now if nothing is in flight, else after the last batch. */
  retire(): void {
    this.#isRetired = true;
    if (this.#batches === 0) void this.close();
  }

  /** Drops the backend (it waits for queued replies); the next request opens a new one unless retired. */
  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    const backend = this.#backend;
    this.#backend = undefined;
    this.#connecting = undefined;
    await backend?.close();
  }

  #open() {
    const backend = this.#options.open(this.settings);
    this.#backend = backend;
    for (const event of ['up', 'down', 'reconnecting'] as const)
      backend.on(event, () => this.#backend === backend && this.emit(event));
    backend.setTokenUsers(this.#principals, this.#sharesServer);
    const connecting = new Promise<void>((settled) => {
      backend.on('up', settled);
      // Queued behind the first connection, a PING fails as soon as that does: the first requests learn
      // that Redis is down at once instead of at their deadline.
      ping(backend, Date.now() + this.#options.commandTimeoutMs).catch(() => settled());
    });
    this.#connecting = connecting;
    void connecting.then(() => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    this.#armIdle(this.#options.idleMs);
  }

  #track(run: (backend: RedisBackend) => Promise<Executed>): Promise<Executed> {
    const backend = this.#backend;
    if (backend === undefined) return Promise.reject(this.#closedError());
    this.#batches++;
    const finished = () => {
      this.#lastUsed = Date.now();
      if (--this.#batches === 0 && this.#isRetired) void this.close();
    };
    const running = run(backend);
    running.then(finished, finished);
    return running;
  }

  /** Counts a live stream, which is traffic: the idle close waits for it. Returns its end, safe to call twice. */
  /** Counts a stream as traffic; the function it returns ends the count (openHolding calls it once). */
  #streamStarted(): () => void {
    this.#streams++;
    return () => {
      this.#streams--;
      this.#lastUsed = Date.now();
    };
  }

  #armIdle(delayMs: number) {
    if (this.#options.idleMs === 0) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#closeIfIdle(), delayMs);
    this.#idleTimer.unref();
  }

  #closeIfIdle() {
    if (this.#backend === undefined) return;
    const idleMs = this.#options.idleMs;
    const quietFor = Date.now() - this.#lastUsed;
    if (this.#batches > 0 || this.#streams > 0) return this.#armIdle(idleMs);
    if (quietFor < idleMs) return this.#armIdle(idleMs - quietFor);
    this.#options.logger.info(
      { database: this.settings.name, idleMs },
      'closing the connections of an idle database (CACHEGATE_BACKEND_IDLE_MS)',
    );
    void this.close();
  }

  #closedError(): NotSentError {
    return new NotSentError(`Redis database "${this.settings.name}" is not connected`);
  }
}
