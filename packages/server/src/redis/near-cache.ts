import type { AnswerReservation } from '../answer-budget.js';
import type { Logger } from '../log.js';
import { type ConnectionOptions, RedisConnection } from './connection.js';
import { NearCacheStore } from './near-cache-store.js';
import { ErrorReply } from './resp.js';
import type { Arg, Command, Reply } from './types.js';

/** Settings of the near cache (CACHEGATE_NEAR_CACHE_*). */
export interface NearCacheOptions {
  readonly maxBytes: number;
  /** Keys the cache keeps start with one of these; empty: every key. */
  readonly prefixes: readonly string[];
}

/** How long to wait before setting tracking up again after it was lost. */
const RETRY_MS = 1000;
const INVALIDATE_CHANNEL = '__redis__:invalidate';

/** An invalidation message on the tracking connection: `message __redis__:invalidate [keys] | nil`. */
function isInvalidation(reply: Reply): boolean {
  return Array.isArray(reply) && reply.length === 3 && String(reply[0]) === 'message';
}

/** A key that survives the trip to Redis and back as text: no lone surrogate, which UTF-8 cannot carry. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Replies of reads kept in gateway memory, coherent with one Redis server through its client tracking
 * (decision 0014). Two connections of its own, with the gateway's credentials:
 * - the *invalidation* connection is subscribed to `__redis__:invalidate` and receives, from Redis, the
 *   name of every key read through the reader that anyone changed since (writes, expiry, eviction, scripts,
 *   transactions; nil for a flush);
 * - the *reader* has `CLIENT TRACKING on REDIRECT <invalidation connection>`: the near cache's misses are
 *   read through it, so Redis remembers to invalidate what they return.
 * Tracking is live only while both are up. Losing either clears the cache before anything is served from
 * it again (an invalidation may have been lost), and both are set up anew.
 *
 * A write the gateway ran is answered only after a {@link barrier}: a PING on the invalidation connection,
 * whose reply comes after every invalidation Redis queued before it, so a caller always reads its own writes.
 */
export class NearCache {
  readonly store: NearCacheStore;
  readonly #connection: Omit<ConnectionOptions, 'user' | 'startAfter'>;
  readonly #prefixes: readonly string[];
  readonly #log: Logger;
  #invalidator: RedisConnection | undefined;
  #reader: RedisConnection | undefined;
  #isLive = false;
  #isClosed = false;
  #coherentOffset = -1;
  #retry: NodeJS.Timeout | undefined;

  constructor(connection: Omit<ConnectionOptions, 'user' | 'startAfter'>, options: NearCacheOptions) {
    this.#connection = connection;
    this.#prefixes = options.prefixes;
    this.#log = connection.logger;
    this.store = new NearCacheStore(options.maxBytes);
  }

  /** True while Redis tracks what the reader reads and its invalidations arrive: entries may be served. */
  get isLive(): boolean {
    return this.#isLive;
  }

  /**
   * The primary's replication offset up to which every invalidation has arrived (decision 0021): a caller
   * whose sync token is past it may hold a write this cache has not heard of yet. -1 while unknown.
   */
  get coherentOffset(): number {
    return this.#isLive ? this.#coherentOffset : -1;
  }

  /** Whether entries of `key` may be kept: text that round-trips through Redis, within the prefixes. */
  keeps(key: Arg): boolean {
    if (typeof key !== 'string' || LONE_SURROGATE.test(key)) return false;
    const prefixes = this.#prefixes;
    if (prefixes.length === 0) return true;
    for (const prefix of prefixes) if (key.startsWith(prefix)) return true;
    return false;
  }

  /** Sets tracking up (again after every loss, until {@link close}). */
  start(): void {
    if (this.#isClosed || this.#invalidator !== undefined) return;
    const invalidator = new RedisConnection({
      ...this.#connection,
      reconnects: false,
      isPush: isInvalidation,
      onPush: (reply) => this.#onInvalidation(reply),
    });
    const reader = new RedisConnection({ ...this.#connection, reconnects: false });
    this.#invalidator = invalidator;
    this.#reader = reader;
    const lost = () => this.#lost(invalidator);
    invalidator.once('end', lost);
    reader.once('end', lost);
    void this.#track(invalidator, reader).catch((error: unknown) => {
      this.#log.warn(
        { err: error, redis: invalidator.address },
        'near cache: could not set up tracking; retrying',
      );
      lost();
    });
  }

  /** Reads commands through the tracked reader, bulk strings as bytes, held in `reservation`. */
  read(commands: readonly Command[], deadline: number, reservation?: AnswerReservation): Promise<Reply[]> {
    const reader = this.#reader;
    if (reader === undefined || !this.#isLive)
      return Promise.reject(new Error('near cache tracking is down'));
    return reader.send(commands, deadline, 'bytes', reservation);
  }

  /**
   * Resolves once every invalidation Redis queued before now has been applied. When it cannot (tracking
   * is down or slow), the whole cache is cleared instead, which is as safe.
   * @param upTo the primary's replication offset read (ROLE) before this call: once the barrier passed,
   *   the cache has heard of every write up to it ({@link coherentOffset}).
   */
  async barrier(deadline: number, upTo?: number): Promise<void> {
    const invalidator = this.#invalidator;
    if (invalidator === undefined || !this.#isLive) return this.store.clear();
    try {
      await invalidator.send([['PING']], deadline);
      if (upTo !== undefined && this.#invalidator === invalidator && upTo > this.#coherentOffset)
        this.#coherentOffset = upTo;
    } catch {
      this.store.clear();
    }
  }

  async close(): Promise<void> {
    this.#isClosed = true;
    clearTimeout(this.#retry);
    this.#isLive = false;
    this.store.clear();
    await Promise.all([this.#invalidator?.close(), this.#reader?.close()]);
  }

  async #track(invalidator: RedisConnection, reader: RedisConnection): Promise<void> {
    const deadline = Date.now() + this.#connection.commandTimeoutMs;
    const [id, subscribed] = await invalidator.send(
      [
        ['CLIENT', 'ID'],
        ['SUBSCRIBE', INVALIDATE_CHANNEL],
      ],
      deadline,
    );
    if (id instanceof ErrorReply) throw id;
    if (subscribed instanceof ErrorReply) throw subscribed;
    const [tracking] = await reader.send([['CLIENT', 'TRACKING', 'on', 'REDIRECT', String(id)]], deadline);
    if (tracking instanceof ErrorReply) throw tracking;
    if (this.#invalidator !== invalidator) return;
    // Whatever was kept before tracking (re)started may have changed unseen.
    this.store.clear();
    this.#isLive = true;
    this.#log.info({ redis: invalidator.address }, 'near cache: tracking is live');
  }

  #onInvalidation(reply: Reply): void {
    const keys = (reply as Reply[])[2];
    // nil: Redis flushed (FLUSHDB, FLUSHALL), or dropped keys from its tracking table.
    if (!Array.isArray(keys)) this.store.clear();
    else for (const key of keys) this.store.invalidate(String(key));
  }

  #lost(invalidator: RedisConnection): void {
    if (this.#invalidator !== invalidator) return;
    if (this.#isLive)
      this.#log.warn({ redis: invalidator.address }, 'near cache: tracking lost; cache cleared');
    this.#isLive = false;
    this.#coherentOffset = -1;
    this.store.clear();
    const reader = this.#reader;
    this.#invalidator = undefined;
    this.#reader = undefined;
    void invalidator.close();
    void reader?.close();
    if (this.#isClosed) return;
    this.#retry = setTimeout(() => this.start(), RETRY_MS);
    this.#retry.unref();
  }
}
