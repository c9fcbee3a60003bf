import { ClientClosedError, ClientOfflineError, ErrorReply } from '@redis/client';
import { GatewayError, gatewayError } from '../errors.js';
import type { RedisBackend } from './connect.js';
import { NotSentError, TransactionAbortedError } from './connection.js';
import { denialReason, type ExecutionMode, type Principal } from './policy.js';
import type { MessageListener, SubscriptionKind, Unsubscribe } from './subscriber.js';
import type { Command, Reply } from './types.js';

/** Receives what the executor measures; the metrics plugin implements it. */
export interface ExecutorObserver {
  /** A command got its reply after `seconds`; `command` is a name from the command table (bounded). */
  commandCompleted(command: string, seconds: number): void;
  /** GET and MGET found `hits` keys and missed `misses`. */
  cacheLookups(hits: number, misses: number): void;
}

/** Options for {@link CommandExecutor}. */
export interface ExecutorOptions {
  /** Longest wait for Redis before a request fails with 503. */
  commandTimeoutMs: number;
  /** Told about every command's latency and every cache lookup. @default none */
  observer?: ExecutorObserver;
  /**
   * Replicas that must confirm a batch's writes (Redis WAIT, on the same connection) before it succeeds,
   * so a failover cannot lose an acknowledged write. @default 0
   */
  writeReplicas?: number;
}

/** What one batch produced: a reply (or Redis error) per command, in order, and whether it wrote. */
export interface BatchResult {
  readonly replies: Reply[];
  /** True when any command of the batch may have changed data (drives the read-your-writes sync token). */
  readonly wrote: boolean;
}

/**
 * The one way commands reach Redis. Every route, Upstash-style or cache API, turns its request into command
 * arrays and calls {@link CommandExecutor.run}, which applies the policy to the whole batch before anything
 * runs, then executes it within the command timeout.
 */
export class CommandExecutor {
  constructor(
    private readonly backend: RedisBackend,
    private readonly options: ExecutorOptions,
  ) {}

  /**
   * Runs a batch for a principal. Redis errors for individual commands come back as ErrorReply entries;
   * everything that fails the whole batch throws a {@link GatewayError}:
   * 403 when the policy denies any command (nothing runs), 503 when Redis is down or too slow,
   * 400 when Redis discards a transaction.
   */
  async run(principal: Principal, mode: ExecutionMode, commands: Command[]): Promise<BatchResult> {
    const table = this.backend.commandTable;
    if (table === undefined || !this.backend.isReady) {
      const unavailable = gatewayError('CG_ERR_REDIS_UNAVAILABLE');
      unavailable.mayHaveRun = false;
      throw unavailable;
    }
    let wrote = false;
    const names: string[] = new Array(commands.length);
    for (let i = 0; i < commands.length; i++) {
      const command = commands[i] as Command;
      const info = table.lookup(command);
      const denial = denialReason(info, principal, command);
      if (denial !== undefined) throw gatewayError('CG_ERR_COMMAND_DENIED', denial);
      wrote ||= info?.isMutating ?? true;
      names[i] = info?.name ?? 'unknown';
    }
    const started = performance.now();
    const execution = this.#execute(principal, mode, commands);
    const replicas = this.options.writeReplicas ?? 0;
    // Sent in the same tick, WAIT follows the batch on its connection and covers every write of it.
    const confirmation = wrote && replicas > 0 ? this.#waitForReplicas(principal, replicas) : undefined;
    // Awaited below; if the batch fails first, this keeps the confirmation's failure from going unhandled.
    confirmation?.catch(() => undefined);
    const replies = await this.#withTimeout(execution, commands.length === 1 || mode === 'transaction');
    this.#observe(mode, names, replies, (performance.now() - started) / 1000);
    if (confirmation) await this.#withTimeout(confirmation, false);
    return { replies, wrote };
  }

  /**
   * Subscribes to a channel or pattern for a streaming route. Any scope may listen (it reads); Redis ACL
   * users' channel rules apply on their own connection. Runs on a pub/sub connection, never the shared one.
   */
  async subscribe(
    principal: Principal,
    kind: SubscriptionKind,
    name: string,
    listener: MessageListener,
    onEnd: () => void,
  ): Promise<Unsubscribe> {
    if (!this.backend.isReady) {
      const unavailable = gatewayError('CG_ERR_REDIS_UNAVAILABLE');
      unavailable.mayHaveRun = false;
      throw unavailable;
    }
    const subscribed = this.backend.subscribe(kind, name, listener, onEnd, principal.redisUser);
    const refused = (error: unknown) => {
      // Redis refused (NOPERM for an ACL user's channel rules): a Redis error like any command's.
      throw error instanceof ErrorReply ? gatewayError('CG_ERR_REDIS_ERROR', error.message) : error;
    };
    try {
      return await this.#withTimeout(subscribed.catch(refused), true);
    } catch (error) {
      // A subscription confirmed after the timeout must not live on unseen.
      subscribed.then(
        (unsubscribe) => unsubscribe(),
        () => undefined,
      );
      throw error;
    }
  }

  async #waitForReplicas(principal: Principal, replicas: number): Promise<Reply[]> {
    const waitMs = Math.max(1, Math.floor(this.options.commandTimeoutMs / 2));
    const reply = await this.backend.send(['WAIT', String(replicas), String(waitMs)], principal.redisUser);
    if (typeof reply !== 'number' || reply < replicas) {
      throw gatewayError(
        'CG_ERR_REPLICATION_INCOMPLETE',
        `The write reached the primary, but ${typeof reply === 'number' ? reply : 0} of ${replicas} replicas ` +
          `confirmed it within ${waitMs} ms (CACHEGATE_WRITE_REPLICAS); it could be lost if the primary fails now`,
      );
    }
    return [reply];
  }

  #execute(principal: Principal, mode: ExecutionMode, commands: Command[]): Promise<Reply[]> {
    const user = principal.redisUser;
    if (mode === 'transaction') return this.backend.transaction(commands, user);
    // Sent in one tick, the commands leave in one write: node-redis pipelines them automatically.
    return Promise.all(commands.map((command) => this.backend.send(command, user).catch(asReply)));
  }

  /**
   * Reports the batch to the observer: its latency for every command (pipelined commands travel together,
   * so the batch's round trip is each one's latency; a transaction counts as "multi"), and the hits and
   * misses of GET and MGET.
   */
  #observe(mode: ExecutionMode, names: string[], replies: Reply[], seconds: number) {
    const observer = this.options.observer;
    if (observer === undefined) return;
    if (mode === 'transaction') observer.commandCompleted('multi', seconds);
    let hits = 0;
    let misses = 0;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      if (mode !== 'transaction') observer.commandCompleted(name, seconds);
      if (name !== 'get' && name !== 'mget') continue;
      const reply = replies[i];
      for (const value of name === 'mget' && Array.isArray(reply) ? reply : [reply]) {
        if (value === null) misses++;
        else if (!(value instanceof ErrorReply)) hits++;
      }
    }
    if (hits + misses > 0) observer.cacheLookups(hits, misses);
  }

  /** `oneTarget`: the batch went to one connection in one write, so a refusal to send covers all of it. */
  #withTimeout<T>(work: Promise<T>, oneTarget: boolean): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(gatewayError('CG_ERR_REDIS_TIMEOUT')), this.options.commandTimeoutMs);
    });
    const failed = (error: unknown) => toGatewayError(error, oneTarget);
    return Promise.race([work.catch(failed), timeout]).finally(() => clearTimeout(timer));
  }
}

/** A Redis error reply is a result for that command; any other failure fails the batch. */
function asReply(error: unknown): Reply {
  if (error instanceof ErrorReply) return error;
  throw error;
}

function toGatewayError(error: unknown, oneTarget: boolean): never {
  if (error instanceof GatewayError) throw error;
  if (error instanceof TransactionAbortedError)
    throw gatewayError('CG_ERR_TRANSACTION_ABORTED', error.message);
  // Everything else is the connection: offline, closed, reset, queue full.
  const unavailable = gatewayError('CG_ERR_REDIS_UNAVAILABLE', undefined, error);
  unavailable.mayHaveRun = !(oneTarget && neverSent(error));
  throw unavailable;
}

/** Failures that happen before a command is written to any socket. */
function neverSent(error: unknown): boolean {
  return (
    error instanceof ClientOfflineError ||
    error instanceof ClientClosedError ||
    error instanceof NotSentError ||
    (error instanceof Error && error.message === 'The queue is full')
  );
}
