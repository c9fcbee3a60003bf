import type { AnswerReservation } from '../answer-budget.js';
import { GATEWAY_PRINCIPAL, type Principal } from '../auth/principal.js';
import { roleOf } from '../auth/role.js';
import { GatewayError, gatewayError } from '../errors.js';
import { type Batch, openHolding, type PlannedCommand, type RedisBackend } from '../redis/backend.js';
import {
  NotSentError,
  ReplyTimeoutError,
  TransactionAbortedError,
  TransactionReplyDroppedError,
} from '../redis/connection.js';
import { type Databases, databaseName } from '../redis/databases.js';
import type { MonitorStream, StopMonitor } from '../redis/monitor.js';
import { type DroppedReply, ErrorReply } from '../redis/resp.js';
import type { Subscription, Unsubscribe } from '../redis/subscriber.js';
import { type SyncPoint, UNKNOWN_SEEN } from '../redis/sync-point.js';
import type { Command, Reply, ReplyForm } from '../redis/types.js';
import { scopeChannels, scopeSubscription } from './channels.js';
import { denialReason, roleDenial } from './policy.js';
import type { ScriptApproval } from './script-approval.js';
import type { ServedReadsObserver } from './served-reads.js';
import { SharedReads } from './shared-reads.js';
import { SCRIPT_COMMANDS, UpstashScripts } from './upstash-scripts.js';

/** Receives what the executor measures; the metrics plugin implements it. */
export interface ExecutorObserver {
  /**
   * `count` commands named `command` (from the command table: bounded) got their replies from `database`
   * (a tokens-file database's name, or `default`) after `seconds`.
   */
  commandCompleted(command: string, seconds: number, count: number, database: string): void;
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
   * so a failover cannot lose an acknowledged write. The main Redis only. @default 0
   */
  writeReplicas?: number;
  /**
   * Most MONITOR streams open at once in this process: each costs Redis a share of its throughput.
   * @default 2
   */
  maxMonitors?: number;
  /** The database number of the main Redis, whose keyspace notifications its tokens may hear. @default 0 */
  mainDb?: number;
  /** Which scripts tokens other than the main admin may run (CACHEGATE_SCRIPTS). @default any script */
  scripts?: ScriptApproval;
  /** Told which commands every answered batch ran, to follow the keys read (warming/). @default none */
  servedReads?: ServedReadsObserver;
}

/** How a batch of commands runs: pipelined (a single command is a pipeline of one), or inside MULTI/EXEC. */
export type ExecutionMode = 'pipeline' | 'transaction';

/** What one batch produced: a reply (or Redis error) per command, in order, and whether it wrote. */
export interface BatchResult {
  readonly replies: Reply[];
  /** True when any command of the batch may have changed data (drives the read-your-writes sync token). */
  readonly wrote: boolean;
  /** With replicas read from: how far the replication streams had got after the batch's writes. */
  readonly reached?: SyncPoint | undefined;
}

/**
 * The one way commands reach Redis. Every route, Upstash-style or cache API, turns its request into command
 * arrays and calls {@link CommandExecutor.run}, which applies the policy to the whole batch before anything
 * runs, then hands it to the backend with a deadline.
 */
export class CommandExecutor {
  readonly #scripts = new UpstashScripts();
  /** Near-cache hits and single-flight reads; its `coalesced` count is exported as a metric. */
  readonly reads = new SharedReads();
  #openMonitors = 0;

  /** @param databases resolves each principal to the Redis its commands go to. */
  constructor(
    private readonly databases: Databases,
    private readonly options: ExecutorOptions,
  ) {}

  /**
   * Runs a batch for a principal. Redis errors for individual commands come back as ErrorReply entries;
   * everything that fails the whole batch throws a {@link GatewayError}:
   * 403 when the policy denies any command (nothing runs), 503 when Redis is down or too slow,
   * 400 when Redis discards a transaction.
   * @param form how the replies come back: `text` when they only become JSON text (not base64).
   * @param reservation the request's share of the AnswerBudget, where its replies are held.
   * @param seen what the caller has seen (its sync token): reads go to a replica that applied it.
   */
  async run(
    principal: Principal,
    mode: ExecutionMode,
    commands: Command[],
    form: ReplyForm = 'bytes',
    reservation?: AnswerReservation,
    seen?: SyncPoint,
  ): Promise<BatchResult> {
    const deadline = Date.now() + this.options.commandTimeoutMs;
    const found = this.databases.resolve(principal, deadline);
    // Only a tokens-file database's first connection makes this wait, within the same deadline.
    const backend = found instanceof Promise ? await found : found;
    const table = backend?.commandTable;
    if (backend === undefined || table === undefined || !backend.isReady) throw unavailable(principal);
    const scriptsNeedAdmin = backend.scriptsNeedAdmin(principal);
    let wrote = false;
    // Only cacheable reads, of text arguments: the near cache and single flight may answer the batch.
    let shareable = mode === 'pipeline' && principal.redisUser === undefined;
    const planned: PlannedCommand[] = new Array(commands.length);
    // SCRIPT LOAD answers to give in place of Redis's, by position (see UpstashScripts).
    let answers: string[] | undefined;
    // Replies that come back through the principal's channel namespace, by position (see channels.ts).
    let rewrites: (((reply: Reply) => Reply) | undefined)[] | undefined;
    for (let i = 0; i < commands.length; i++) {
      let args = commands[i] as Command;
      const info = table.lookup(args);
      const denial = denialReason(info, principal, args, scriptsNeedAdmin);
      if (denial !== undefined) throw gatewayError('CG_ERR_COMMAND_DENIED', denial);
      const scoped = info === undefined ? undefined : scopeChannels(info, args, principal);
      if (typeof scoped === 'string') throw gatewayError('CG_ERR_COMMAND_DENIED', scoped);
      if (scoped !== undefined) {
        args = scoped.args;
        if (scoped.reply !== undefined) {
          rewrites ??= [];
          rewrites[i] = scoped.reply;
        }
      }
      wrote ||= info?.isMutating ?? true;
      shareable &&= info?.isCacheable === true && isText(args);
      if (info !== undefined && SCRIPT_COMMANDS.has(info.name)) {
        const rewritten = this.#scripts.rewrite(info.name, args);
        if (rewritten !== undefined) args = rewritten.args;
        if (rewritten?.answer !== undefined) {
          answers ??= [];
          answers[i] = rewritten.answer;
        }
      }
      planned[i] = { args, info };
    }
    const approval = this.options.scripts;
    try {
      await approval?.check(principal, planned, async (command) => (await this.runAsGateway([command]))[0]);
    } catch (error) {
      // Nothing of the batch was sent, whatever became of the lookup.
      throw error instanceof GatewayError ? error : unavailable(principal);
    }
    const started = performance.now();
    if (shareable) {
      let replies: Reply[];
      try {
        replies = await this.reads.run(backend, principal, planned, deadline, reservation, seen);
      } catch (error) {
        throw toGatewayError(error);
      }
      this.#observe(mode, planned, replies, (performance.now() - started) / 1000, databaseName(principal));
      return { replies, wrote: false };
    }
    const batch: Batch = { principal, commands: planned, deadline, mode, form, reservation, seen };
    const execution = backend.run(batch);
    const replicas = principal.database === undefined ? (this.options.writeReplicas ?? 0) : 0;
    // Sent in the same tick, WAIT follows the batch on its connection and covers every write of it.
    const confirmation = wrote && replicas > 0 ? this.#waitForReplicas(backend, batch, replicas) : undefined;
    // Awaited below; if the batch fails first, this keeps the confirmation's failure from going unhandled.
    confirmation?.catch(() => undefined);
    let replies: Reply[];
    let reached: SyncPoint | undefined;
    try {
      ({ replies, reached } = await execution);
      if (confirmation) await confirmation;
    } catch (error) {
      throw toGatewayError(error);
    }
    if (wrote) {
      this.reads.wrote();
      await this.#afterWrite(backend, principal, planned, deadline, reached);
    }
    const approving = approval?.approvals(principal, planned) ?? [];
    if (approving.length > 0) await this.runAsGateway(approving);
    this.#observe(mode, planned, replies, (performance.now() - started) / 1000, databaseName(principal));
    if (answers !== undefined) answerWithSentDigests(replies, answers, form);
    rewrites?.forEach((rewrite, i) => {
      const reply = replies[i] ?? null;
      if (rewrite !== undefined && !(reply instanceof ErrorReply)) replies[i] = rewrite(reply);
    });
    return { replies, wrote, reached };
  }

  /**
   * Runs the gateway's own commands (rate-limit counters, approved-script lookups) on the main Redis's
   * primary as its configured user, past the policy, within the same deadline as every request.
   */
  async runAsGateway(commands: Command[]): Promise<Reply[]> {
    const backend = this.databases.main;
    const table = backend.commandTable;
    if (table === undefined || !backend.isReady) throw new NotSentError('Redis is not connected');
    const planned = commands.map((args) => ({ args, info: table.lookup(args) }));
    const deadline = Date.now() + this.options.commandTimeoutMs;
    // The gateway's own reads (approved scripts) go to the primary: they must see the latest writes.
    const batch = { principal: GATEWAY_PRINCIPAL, commands: planned, deadline, seen: UNKNOWN_SEEN };
    return (await backend.run(batch)).replies;
  }

  /**
   * Subscribes to a channel or pattern for a streaming route, in the principal's channel namespace (see
   * channels.ts). Any scope may listen (it reads); tokens-file Redis users' channel rules apply on their
   * own connection. Runs on a pub/sub connection, never a command one.
   */
  async subscribe(principal: Principal, subscription: Subscription): Promise<Unsubscribe> {
    const scoped = scopeSubscription(subscription, principal, this.options.mainDb ?? 0);
    if (typeof scoped === 'string') throw gatewayError('CG_ERR_COMMAND_DENIED', scoped);
    const found = this.databases.resolve(principal, Date.now() + this.options.commandTimeoutMs);
    const backend = found instanceof Promise ? await found : found;
    if (backend === undefined || !backend.isReady) throw unavailable(principal);
    const subscribed = backend.subscribe(principal, scoped);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ReplyTimeoutError(true)), this.options.commandTimeoutMs);
    });
    try {
      return await Promise.race([subscribed, timeout]);
    } catch (error) {
      // A subscription confirmed after the timeout must not live on unseen.
      subscribed.then(
        (unsubscribe) => unsubscribe(),
        () => undefined,
      );
      // Redis refused (NOPERM for an ACL user's channel rules): a Redis error like any command's.
      if (error instanceof ErrorReply) throw gatewayError('CG_ERR_REDIS_ERROR', error.message);
      throw toGatewayError(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** MONITOR streams open now (for the metrics gauge). */
  get openMonitors(): number {
    return this.#openMonitors;
  }

  /**
   * Opens a MONITOR stream on a dedicated connection: admin scope only (403 for other tokens, as the
   * policy words it), at most `maxMonitors` at once (503). The returned function ends it; `onEnd` runs when
   * Redis ends it first. Either way the stream's slot is given back exactly once.
   */
  async monitor(principal: Principal, stream: MonitorStream): Promise<StopMonitor> {
    const found = this.databases.resolve(principal, Date.now() + this.options.commandTimeoutMs);
    const backend = found instanceof Promise ? await found : found;
    const table = backend?.commandTable;
    if (backend === undefined || table === undefined || !backend.isReady) throw unavailable(principal);
    const info = table.lookup(['MONITOR']);
    const denial =
      info === undefined
        ? roleOf(principal) === 'admin'
          ? undefined
          : 'MONITOR needs a token with scope "admin"'
        : roleDenial(info, roleOf(principal), 'MONITOR');
    if (denial !== undefined) throw gatewayError('CG_ERR_COMMAND_DENIED', denial);
    const max = this.options.maxMonitors ?? 2;
    if (this.#openMonitors >= max) {
      throw gatewayError(
        'CG_ERR_MONITOR_LIMIT_REACHED',
        max === 0
          ? 'MONITOR streams are turned off on this gateway (CACHEGATE_MAX_MONITORS=0)'
          : `${max} MONITOR streams are open, the most this gateway allows (CACHEGATE_MAX_MONITORS); close one and retry`,
      );
    }
    this.#openMonitors++;
    const deadline = Date.now() + this.options.commandTimeoutMs;
    try {
      return await openHolding(
        (ended) => backend.monitor(principal, { ...stream, onEnd: ended }, deadline),
        stream.onEnd,
        () => {
          this.#openMonitors--;
        },
      );
    } catch (error) {
      if (error instanceof ErrorReply) throw gatewayError('CG_ERR_REDIS_ERROR', error.message);
      throw toGatewayError(error);
    }
  }

  /**
   * Holds a write's answer until the near caches applied what Redis invalidated for it, so the caller reads
   * its own write. Redis does not invalidate on SWAPDB: that clears them, as does a script or function run
   * by the main admin, the one token whose scripts may call SWAPDB. With replicas read from, a cache that
   * passed its barrier has heard of every write up to the offset the batch reached on its shard.
   */
  async #afterWrite(
    backend: RedisBackend,
    principal: Principal,
    planned: PlannedCommand[],
    deadline: number,
    reached: SyncPoint | undefined,
  ): Promise<void> {
    const caches = backend.nodes().filter(({ nearCache }) => nearCache !== undefined);
    if (caches.length === 0) return;
    const mayScript = roleOf(principal) === 'admin';
    const swapped = planned.some(({ info }) => {
      const name = info?.name;
      return name === 'swapdb' || (mayScript && name !== undefined && MAY_SWAP.has(name));
    });
    await Promise.all(
      caches.map(({ nearCache: cache, shard }) => {
        if (cache === undefined) return undefined;
        if (swapped) cache.store.clear();
        return cache.isLive ? cache.barrier(deadline, reached?.get(shard)) : undefined;
      }),
    );
  }

  async #waitForReplicas(backend: RedisBackend, batch: Batch, replicas: number): Promise<void> {
    const waitMs = Math.max(1, Math.floor(this.options.commandTimeoutMs / 2));
    const wait: Command = ['WAIT', String(replicas), String(waitMs)];
    const command = { args: wait, info: backend.commandTable?.lookup(wait) };
    const {
      replies: [reply],
    } = await backend.run({ ...batch, mode: 'pipeline', commands: [command] });
    if (typeof reply !== 'number' || reply < replicas) {
      throw gatewayError(
        'CG_ERR_REPLICATION_INCOMPLETE',
        `The write reached the primary, but ${typeof reply === 'number' ? reply : 0} of ${replicas} replicas ` +
          `confirmed it within ${waitMs} ms (CACHEGATE_WRITE_REPLICAS); it could be lost if the primary fails now`,
      );
    }
  }

  /**
   * Reports the batch to the observer: its latency for every command (pipelined commands travel together,
   * so the batch's round trip is each one's latency; a transaction counts as "multi"), and the hits and
   * misses of GET and MGET.
   */
  #observe(
    mode: ExecutionMode,
    planned: PlannedCommand[],
    replies: Reply[],
    seconds: number,
    database: string,
  ) {
    this.options.servedReads?.served(database, planned, replies);
    const observer = this.options.observer;
    if (observer === undefined) return;
    if (mode === 'transaction') observer.commandCompleted('multi', seconds, 1, database);
    let hits = 0;
    let misses = 0;
    // Runs of one command (a pipeline of GETs) are reported at once.
    let run = 0;
    for (let i = 0; i < planned.length; i++) {
      const name = planned[i]?.info?.name ?? 'unknown';
      run++;
      if (mode !== 'transaction' && (planned[i + 1]?.info?.name ?? 'unknown') !== name) {
        observer.commandCompleted(name, seconds, run, database);
        run = 0;
      }
      if (name !== 'get' && name !== 'mget') continue;
      const reply = replies[i];
      for (const value of name === 'mget' && Array.isArray(reply) ? reply : [reply]) {
        if (value === null) misses++;
        else if (!(value instanceof ErrorReply)) hits++;
      }
    }
    if (hits + misses > 0) observer.cacheLookups(hits, misses);
  }
}

/** Scripts and functions that may write, and so (run by the main admin) may swap databases. */
const MAY_SWAP = new Set(['eval', 'evalsha', 'fcall']);

/** Puts the digests clients computed in place of Redis's in the successful SCRIPT LOAD replies. */
function answerWithSentDigests(replies: Reply[], answers: string[], form: ReplyForm): void {
  answers.forEach((digest, i) => {
    if (!(replies[i] instanceof ErrorReply)) replies[i] = form === 'text' ? digest : Buffer.from(digest);
  });
}

/** The principal's Redis is down (or its database is no longer configured): nothing ran. */
function unavailable(principal: Principal): GatewayError {
  const name = principal.database?.name;
  const message = name === undefined ? undefined : `Redis database "${name}" is unavailable`;
  return notRun(gatewayError('CG_ERR_REDIS_UNAVAILABLE', message));
}

function isText(args: Command): boolean {
  for (let i = 0; i < args.length; i++) if (typeof args[i] !== 'string') return false;
  return true;
}

function notRun(error: GatewayError): GatewayError {
  error.mayHaveRun = false;
  return error;
}

/** Maps a failure of the whole batch to the catalog, keeping whether any of it may have run. */
function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof TransactionAbortedError)
    return gatewayError('CG_ERR_TRANSACTION_ABORTED', error.message);
  // It ran: only its reply is missing.
  if (error instanceof TransactionReplyDroppedError) return droppedReplyError(error.reply);
  if (error instanceof ReplyTimeoutError) {
    const timeout = gatewayError('CG_ERR_REDIS_TIMEOUT');
    timeout.mayHaveRun = error.wasSent;
    return timeout;
  }
  // Everything else is the connection: down, closed, lost, full.
  const unavailable = gatewayError('CG_ERR_REDIS_UNAVAILABLE', undefined, error);
  unavailable.mayHaveRun = !(error instanceof NotSentError);
  return unavailable;
}

/**
 * The answer to a request whose reply the gateway read but did not forward: the command ran. 503 (retry)
 * when the process held too much at that moment, else 400 (ask for less).
 */
export function droppedReplyError(reply: DroppedReply): GatewayError {
  const error = gatewayError(
    reply.reason === 'process' ? 'CG_ERR_OVERLOADED' : 'CG_ERR_REPLY_TOO_LARGE',
    reply.message,
  );
  error.mayHaveRun = true;
  return error;
}
