import type { Command, CommandArg } from './commands.js';
import { type Operation, operations, type SetOptions } from './operations.js';
import type { BatchMode, Outcome } from './transport.js';

/** Per-call options every operation accepts. */
export interface CallOptions {
  /**
   * Deadline for this call in milliseconds. Calls with different timeouts are never batched together.
   * @default the client's `timeoutMs`
   */
  timeoutMs?: number;
  /** Cancels the call; it then rejects with `CG_ERR_ABORTED`. @default undefined */
  signal?: AbortSignal;
}

/** Sends an explicit batch through the owning client (retries, fallback and timeouts included). */
export type ExecBatch = (commands: Command[], mode: BatchMode, options?: CallOptions) => Promise<Outcome[]>;

/**
 * Commands queued explicitly and sent in one request when {@link Pipeline.exec} is called: `/pipeline`
 * for `client.pipeline()` (not atomic, commands from other clients may interleave), `/multi-exec` for
 * `client.multi()` (atomic). The result tuple is typed from the chain.
 *
 * @example
 * const [count, user] = await cache.multi().incr('visits').get<User>('user:1').exec();
 */
export class Pipeline<Results extends unknown[] = []> {
  readonly #exec: ExecBatch;
  readonly #mode: BatchMode;
  readonly #operations: Operation<unknown>[] = [];

  /** @internal Use `client.pipeline()` or `client.multi()`. */
  constructor(exec: ExecBatch, mode: BatchMode) {
    this.#exec = exec;
    this.#mode = mode;
  }

  /** How many commands are queued. */
  get length(): number {
    return this.#operations.length;
  }

  /** Queues GET; the value is JSON-decoded. */
  get<T = unknown>(key: string): Pipeline<[...Results, T | null]> {
    return this.#add(operations.get<T>(key));
  }

  /** Queues SET with the value JSON-encoded; the result is false when NX/XX prevented the write. */
  set(key: string, value: unknown, options?: SetOptions): Pipeline<[...Results, boolean]> {
    return this.#add(operations.set(key, value, options));
  }

  /** Queues DEL; the result counts the deleted keys. */
  del(keys: string | string[]): Pipeline<[...Results, number]> {
    return this.#add(operations.del(keys));
  }

  /** Queues MGET; values are JSON-decoded, missing keys are null. */
  mget<T = unknown>(keys: string[]): Pipeline<[...Results, (T | null)[]]> {
    return this.#add(operations.mget<T>(keys));
  }

  /** Queues MSET with every value JSON-encoded. */
  mset(entries: Record<string, unknown>): Pipeline<[...Results, undefined]> {
    return this.#add(operations.mset(entries));
  }

  /** Queues INCR. */
  incr(key: string): Pipeline<[...Results, number]> {
    return this.#add(operations.incr(key));
  }

  /** Queues EXPIRE (PEXPIRE for fractional seconds); the result is false when the key does not exist. */
  expire(key: string, seconds: number): Pipeline<[...Results, boolean]> {
    return this.#add(operations.expire(key, seconds));
  }

  /** Queues TTL: seconds left, -1 without expiry, -2 when missing. */
  ttl(key: string): Pipeline<[...Results, number]> {
    return this.#add(operations.ttl(key));
  }

  /** Queues EXISTS. */
  exists(keys: string | string[]): Pipeline<[...Results, number]> {
    return this.#add(operations.exists(keys));
  }

  /** Queues any command; its raw reply is not JSON-decoded. */
  command<T = unknown>(args: readonly CommandArg[]): Pipeline<[...Results, T]> {
    return this.#add(operations.command<T>(args));
  }

  /**
   * Sends the queued commands in one request. Rejects with the first command error (later results are
   * dropped; in a transaction the other commands still ran, as Redis does not roll back).
   */
  async exec(options?: CallOptions): Promise<Results> {
    if (this.#operations.length === 0) return [] as unknown as Results;
    const queued = [...this.#operations];
    const outcomes = await this.#exec(
      queued.map((operation) => operation.command),
      this.#mode,
      options,
    );
    return queued.map((operation, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) throw new Error('The batch returned fewer results than commands');
      if (!outcome.ok) throw outcome.error;
      return operation.parse(outcome.value);
    }) as Results;
  }

  #add<T>(operation: Operation<T>): Pipeline<[...Results, T]> {
    this.#operations.push(operation);
    return this as unknown as Pipeline<[...Results, T]>;
  }
}
