import { EventEmitter } from 'node:events';
import { createClient, ErrorReply, RESP_TYPES } from '@redis/client';
import type { FastifyBaseLogger } from 'fastify';
import type { Command, RedisUser, Reply } from './types.js';

/** How to reach one Redis server. */
export interface ConnectionOptions {
  /** `redis[s]://[user[:password]@]host[:port][/db]` */
  url: string;
  /** Password when it is not part of the URL. @default none */
  password?: string | undefined;
  /** Connect as this ACL user instead of the URL's. @default the URL's user */
  user?: RedisUser | undefined;
  /** PEM CA bundle that signs the server's certificate, for `rediss://`. @default Node's CAs */
  tlsCa?: Buffer | undefined;
  /** Used as the connect timeout, so a dead host is noticed as fast as a slow command. */
  commandTimeoutMs: number;
  /**
   * Most commands waiting in the connection's queue. Past it, commands fail at once instead of piling up
   * behind a Redis that stopped answering. @default 100000
   */
  maxQueuedCommands?: number;
  logger: FastifyBaseLogger;
}

/** Redis discarded a transaction; the message says why (the first command Redis refused to queue). */
export class TransactionAbortedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransactionAbortedError';
  }
}

/**
 * No server can take the command now (no master known for its slot, CLUSTERDOWN, no master named yet):
 * raised before anything was sent, so the request is known not to have run. Answered as a 503.
 */
export class NotSentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotSentError';
  }
}

type Client = ReturnType<typeof createClient>;
type SendOptions = { chainId?: symbol; typeMapping?: Record<number, unknown> };
type Sender = (command: Command, options?: SendOptions) => Promise<Reply>;

/** Bulk strings as Buffers keep values byte-exact; status replies stay strings. */
const TYPE_MAPPING = { [RESP_TYPES.BLOB_STRING]: Buffer };

/** Connection errors repeat on every retry while a server is down: log the first, then every 10 s. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * One long-lived, auto-pipelined connection to one Redis server (node-redis underneath). It fails commands
 * at once while disconnected (no offline queue) and reconnects in the background with capped, jittered
 * backoff. Emits `up` when ready, `down` when lost and `reconnecting` before each new attempt.
 */
export class RedisConnection extends EventEmitter {
  readonly #client: Client;
  readonly #send: Sender;
  readonly #options: ConnectionOptions;
  #isUp = false;
  #hasConnected = false;
  #lastErrorLog = 0;
  /** Settles when the first connection attempt succeeds (or node-redis gives up). */
  readonly connected: Promise<void>;

  constructor(options: ConnectionOptions) {
    super();
    this.#options = options;
    this.#client = createClient({
      ...clientOptions(options),
      commandsQueueMaxLength: options.maxQueuedCommands ?? 100_000,
      commandOptions: { typeMapping: TYPE_MAPPING },
    }) as unknown as Client;
    this.#send = this.#client.sendCommand.bind(this.#client) as unknown as Sender;
    this.#client.on('ready', () => {
      this.#isUp = true;
      this.#hasConnected = true;
      this.emit('up');
    });
    this.#client.on('reconnecting', () => this.emit('reconnecting'));
    this.#client.on('end', () => this.#lost());
    this.#client.on('error', (error: Error) => {
      this.#lost();
      this.#logError(error);
    });
    this.connected = this.#client.connect().then(
      () => undefined,
      (error: Error) =>
        options.logger.error({ err: error, redis: this.address }, 'gave up connecting to Redis'),
    );
  }

  /** `host:port` of the server, safe to log. */
  get address(): string {
    const url = new URL(this.#options.url);
    return `${url.hostname}:${url.port || 6379}`;
  }

  get isReady(): boolean {
    return this.#client.isReady;
  }

  /**
   * Sends one command; auto-pipelined with everything else sent in the same tick. A connection that was
   * just opened is waited for (the caller's timeout bounds the wait); one that was lost fails at once.
   */
  send(command: Command, options?: SendOptions): Promise<Reply> {
    if (this.#hasConnected) return this.#send(command, options);
    return this.connected.then(() => this.#send(command, options));
  }

  /**
   * Sends commands back to back as one chain: node-redis writes them contiguously and never carries half a
   * chain over to a new connection. Settles every command separately.
   */
  chain(commands: Command[], options?: Omit<SendOptions, 'chainId'>): Promise<PromiseSettledResult<Reply>[]> {
    const chainId = Symbol('chain');
    const send = () =>
      Promise.allSettled(commands.map((command) => this.#send(command, { ...options, chainId })));
    return this.#hasConnected ? send() : this.connected.then(send);
  }

  /**
   * Runs commands inside MULTI/EXEC as one chain, so concurrent transactions never interleave or nest.
   * Resolves with EXEC's replies (failed commands as ErrorReply entries).
   * @throws {TransactionAbortedError} when Redis discarded the transaction (EXECABORT).
   */
  async transaction(commands: Command[]): Promise<Reply[]> {
    const settled = await this.chain([['MULTI'], ...commands, ['EXEC']]);
    const exec = settled[settled.length - 1] as PromiseSettledResult<Reply>;
    if (exec.status === 'fulfilled') return exec.value as Reply[];
    if (!(exec.reason instanceof ErrorReply)) throw exec.reason;
    const refused = settled.find(
      (s, i) => i > 0 && s.status === 'rejected' && s.reason instanceof ErrorReply,
    );
    const why =
      refused?.status === 'rejected' ? ` First refused command: ${(refused.reason as Error).message}` : '';
    throw new TransactionAbortedError(`${exec.reason.message}${why}`);
  }

  /** Waits for the replies already queued, then closes; a connection that is down closes at once. */
  async close(): Promise<void> {
    this.removeAllListeners();
    if (!this.#client.isOpen) return;
    if (this.#client.isReady) await this.#client.close();
    else this.#client.destroy();
  }

  #lost() {
    if (!this.#isUp) return;
    this.#isUp = false;
    this.emit('down');
  }

  #logError(error: Error) {
    const now = Date.now();
    if (now - this.#lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.#lastErrorLog = now;
    this.#options.logger.warn(
      {
        err: { message: error.message, code: (error as NodeJS.ErrnoException).code },
        redis: this.address,
        redisUser: this.#options.user?.username,
      },
      'Redis connection error; retrying',
    );
  }
}

/**
 * The node-redis options every gateway connection shares: credentials, fail-fast (no offline queue), and a
 * socket with a connect timeout and capped, jittered reconnection backoff.
 */
export function clientOptions(options: ConnectionOptions) {
  const credentials = options.user
    ? { username: options.user.username, password: options.user.password }
    : options.password === undefined
      ? {}
      : { password: options.password };
  return {
    url: options.url,
    ...credentials,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.commandTimeoutMs,
      noDelay: true,
      keepAlive: true,
      ...(options.tlsCa ? { ca: options.tlsCa } : {}),
      reconnectStrategy: (retries: number) =>
        Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 100),
    },
  };
}

/** A Redis URL safe to log: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
