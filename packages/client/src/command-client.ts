import { AutoBatcher } from './auto-batcher.js';
import { type GetOrSetOptions, getOrSet, SingleFlight } from './cache-aside.js';
import type { Command, CommandArg } from './commands.js';
import { type CachegateError, hasCode } from './errors.js';
import { type Operation, operations, type SetOptions } from './operations.js';
import { type CallOptions, Pipeline } from './pipeline.js';
import type { BatchMode, Outcome, Transport } from './transport.js';
import { type WarmOptions, type WarmSource, type WarmSummary, warm } from './warm.js';

/** What a command client is built from. */
export interface CommandClientSettings {
  /** Where batches go: a composed transport (see `Cachegate` and the hybrid client). */
  transport: Transport;
  /** Default deadline of a call, in milliseconds. */
  timeoutMs: number;
  /** Most commands in one automatic batch request. */
  maxBatchSize: number;
}

/**
 * The operations every client offers, over one {@link Transport}. Each typed operation is one command;
 * calls issued in the same tick are batched into one request (see AutoBatcher). Clients differ only in the
 * transport they are built with: retries, the deadline and fallback are layers of it.
 */
export class CommandClient {
  /** Default deadline of a call, in milliseconds. */
  readonly timeoutMs: number;
  readonly #transport: Transport;
  readonly #batcher: AutoBatcher;
  readonly #flights = new SingleFlight();

  protected constructor(settings: CommandClientSettings) {
    this.timeoutMs = settings.timeoutMs;
    this.#transport = settings.transport;
    this.#batcher = new AutoBatcher(
      (commands, options) => this.#sendAutoBatch(commands, options),
      settings.maxBatchSize,
    );
  }

  /**
   * True when this client can use the service now: one `PING` with its token, answered within the timeout.
   * False when the gateway is unreachable, not ready (its Redis down, draining) or refuses the token.
   * Never throws.
   */
  isServiceAvailable(options: { timeoutMs?: number } = {}): Promise<boolean> {
    return this.#transport.isHealthy(options.timeoutMs ?? this.timeoutMs);
  }

  /** Releases connections. Calls after this reject with `CG_ERR_CLIENT_CLOSED`. */
  close(): Promise<void> {
    return this.#transport.close();
  }

  /**
   * Reads a key and JSON-decodes its value; null when the key does not exist.
   * @example const user = await cache.get<User>('user:1');
   * @see https://redis.io/commands/get
   */
  get<T = unknown>(key: string, options?: CallOptions): Promise<T | null> {
    return this.#call(() => operations.get<T>(key), options);
  }

  /**
   * Stores any JSON value (strings keep their quotes, so `'42'` reads back as a string). Resolves false
   * when `nx`/`xx` prevented the write.
   * @example await cache.set('user:1', { name: 'Ada' }, { ttl: 60 });
   * @see https://redis.io/commands/set
   */
  set(key: string, value: unknown, options?: SetOptions & CallOptions): Promise<boolean> {
    return this.#call(() => operations.set(key, value, options), options);
  }

  /** Deletes keys; resolves with how many existed. @see https://redis.io/commands/del */
  del(keys: string | string[], options?: CallOptions): Promise<number> {
    return this.#call(() => operations.del(keys), options);
  }

  /** Reads many keys at once; missing keys are null. @see https://redis.io/commands/mget */
  mget<T = unknown>(keys: string[], options?: CallOptions): Promise<(T | null)[]> {
    return this.#call(() => operations.mget<T>(keys), options);
  }

  /** Stores many JSON values at once, atomically. @see https://redis.io/commands/mset */
  mset(entries: Record<string, unknown>, options?: CallOptions): Promise<undefined> {
    return this.#call(() => operations.mset(entries), options);
  }

  /**
   * Increments an integer by one and resolves with the new value. Not safe to repeat, so it is never
   * retried once its request may have reached the server (see CG_ERR_OUTCOME_UNKNOWN).
   * @see https://redis.io/commands/incr
   */
  incr(key: string, options?: CallOptions): Promise<number> {
    return this.#call(() => operations.incr(key), options);
  }

  /** Sets a key's time to live in seconds; false when the key does not exist. @see https://redis.io/commands/expire */
  expire(key: string, seconds: number, options?: CallOptions): Promise<boolean> {
    return this.#call(() => operations.expire(key, seconds), options);
  }

  /** Seconds a key has left: -1 when it has no expiry, -2 when it does not exist. @see https://redis.io/commands/ttl */
  ttl(key: string, options?: CallOptions): Promise<number> {
    return this.#call(() => operations.ttl(key), options);
  }

  /** How many of the keys exist. @see https://redis.io/commands/exists */
  exists(keys: string | string[], options?: CallOptions): Promise<number> {
    return this.#call(() => operations.exists(keys), options);
  }

  /**
   * Runs any command and resolves with its raw RESP2 reply (strings, integers, null, nested arrays);
   * values are not JSON-decoded. Numbers and booleans are sent as text.
   * @example await cache.command<number>(['HSET', 'h', 'field', 'v']);
   */
  command<T = unknown>(args: readonly CommandArg[], options?: CallOptions): Promise<T> {
    return this.#call(() => operations.command<T>(args), options);
  }

  /** Starts an explicit pipeline: one request, not atomic. */
  pipeline(): Pipeline {
    return new Pipeline((commands, mode, options) => this.#sendExplicit(commands, mode, options), 'pipeline');
  }

  /** Starts a transaction: one request, run atomically in MULTI/EXEC. */
  multi(): Pipeline {
    return new Pipeline(
      (commands, mode, options) => this.#sendExplicit(commands, mode, options),
      'transaction',
    );
  }

  /**
   * Returns the cached value of `key`, or runs `loader`, caches its result and returns it. Concurrent misses
   * for one key in this client run the loader once (single flight). With `staleWhileRevalidate`, a stale
   * value is returned at once while one background refresh runs.
   * @example const user = await cache.getOrSet(`user:${id}`, () => db.users.find(id), { ttl: 60 });
   */
  getOrSet<T>(
    key: string,
    loader: () => T | Promise<T>,
    options?: GetOrSetOptions,
    callOptions?: CallOptions,
  ): Promise<T> {
    return getOrSet(this, this.#flights, key, loader, options, callOptions);
  }

  /**
   * Warms the cache from entries you have, or from keys and a loader called only for the keys the cache
   * does not hold: loaders run `concurrency` at a time, writes go in batches (`SET ... NX`, so a fresher value
   * written meanwhile is never replaced, unless `overwrite`), `onProgress` reports each batch, and the summary
   * says what was loaded, skipped, and what failed and why. A failure fails its keys only. Through the hybrid
   * client, each request takes whichever path (gateway or direct Redis) is up.
   * @example
   * const summary = await cache.warm(
   *   { keys: topProductIds.map((id) => `product:${id}`), load: (key) => db.products.find(key.slice(8)) },
   *   { ttl: 3600, concurrency: 16 },
   * );
   * if (summary.failed.length > 0) console.warn(summary.failed);
   */
  warm(source: WarmSource, options?: WarmOptions): Promise<WarmSummary> {
    return warm((commands, mode, call) => this.#sendExplicit(commands, mode, call), source, options);
  }

  async #call<T>(build: () => Operation<T>, options: CallOptions | undefined): Promise<T> {
    // Built inside the async function so invalid arguments reject instead of throwing synchronously.
    const operation = build();
    const outcome = await this.#batcher.enqueue(
      operation.command,
      options?.timeoutMs ?? this.timeoutMs,
      options?.signal,
    );
    if (!outcome.ok) throw outcome.error;
    return operation.parse(outcome.value);
  }

  #sendExplicit(commands: Command[], mode: BatchMode, options: CallOptions | undefined): Promise<Outcome[]> {
    return this.#transport.send(commands, {
      mode,
      timeoutMs: options?.timeoutMs ?? this.timeoutMs,
      signal: options?.signal,
    });
  }

  /**
   * An automatic batch mixes unrelated callers, so one caller's denied or oversized command must not fail
   * the others: the gateway checks those before running anything (403, 413), so the batch is split in
   * halves and re-sent until each failing command stands alone.
   */
  async #sendAutoBatch(
    commands: Command[],
    options: { timeoutMs: number; signal: AbortSignal | undefined },
  ): Promise<Outcome[]> {
    try {
      return await this.#transport.send(commands, { mode: 'pipeline', ...options });
    } catch (error) {
      const refusedWhole = hasCode(
        error,
        'CG_ERR_COMMAND_DENIED',
        'CG_ERR_BODY_TOO_LARGE',
        'CG_ERR_PIPELINE_TOO_LARGE',
      );
      if (commands.length < 2 || !refusedWhole) throw error;
      const middle = Math.ceil(commands.length / 2);
      const halves = [commands.slice(0, middle), commands.slice(middle)];
      // Each half settles on its own: a failure in one must not discard the other's results.
      const outcomes = await Promise.all(
        halves.map((half) =>
          this.#sendAutoBatch(half, options).catch((failure: CachegateError) =>
            half.map((): Outcome => ({ ok: false, error: failure })),
          ),
        ),
      );
      return outcomes.flat();
    }
  }
}
