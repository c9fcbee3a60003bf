import { EventEmitter } from 'node:events';
import { createClient, ErrorReply, RESP_TYPES } from '@redis/client';
import type { FastifyBaseLogger } from 'fastify';
import { CommandTable } from './command-table.js';
import type { Command, RedisUser, Reply } from './types.js';

/** Options for {@link connectRedis}. */
export interface RedisConnectionOptions {
  /** `redis[s]://[user[:password]@]host[:port][/db]` */
  url: string;
  /** Password when it is not part of the URL. @default none */
  password?: string;
  /** Used as the connect timeout, so a dead host is noticed as fast as a slow command. */
  commandTimeoutMs: number;
  /**
   * Most commands waiting in one connection's queue. Past it, commands fail at once instead of piling up
   * behind a Redis that stopped answering. @default 100000
   */
  maxQueuedCommands?: number;
  logger: FastifyBaseLogger;
}

/**
 * The gateway's view of Redis: a few long-lived, auto-pipelined connections (one shared, plus one per Redis
 * ACL user that tokens map to), the server's command table, and health. Commands fail at once while a
 * connection is down (no offline queue); reconnection runs in the background with capped, jittered backoff.
 */
export interface RedisBackend {
  /** True while the shared connection is up and the command table is loaded. */
  readonly isReady: boolean;
  /** The connected server's command table; undefined until the first connection succeeded. */
  readonly commandTable: CommandTable | undefined;
  /** Sends one command; auto-pipelined with everything else sent in the same tick. */
  send(command: Command, user?: RedisUser): Promise<Reply>;
  /**
   * Runs commands inside MULTI/EXEC, written back to back on one connection so that concurrent transactions
   * never interleave. Resolves with EXEC's replies (failed commands as ErrorReply entries).
   * @throws {TransactionAbortedError} when Redis discarded the transaction (EXECABORT).
   */
  transaction(commands: Command[], user?: RedisUser): Promise<Reply[]>;
  /** Round-trips a PING on the shared connection. */
  ping(): Promise<void>;
  /** Waits for queued replies, then closes every connection. */
  close(): Promise<void>;
  /**
   * Connection state changes of the shared connection: `up` once connected and the command table is loaded,
   * `down` when it is lost, `reconnecting` before each new attempt.
   */
  on(event: 'up' | 'down' | 'reconnecting', listener: () => void): this;
}

/** Redis discarded a transaction; the message says why (the first command Redis refused to queue). */
export class TransactionAbortedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransactionAbortedError';
  }
}

type Client = ReturnType<typeof createClient>;
type SendOptions = { chainId?: symbol; typeMapping?: Record<number, unknown> };
type Sender = (command: Command, options?: SendOptions) => Promise<Reply>;

/** Bulk strings as Buffers keep values byte-exact; status replies stay strings. */
const TYPE_MAPPING = { [RESP_TYPES.BLOB_STRING]: Buffer };

/**
 * Opens the shared connection to a standalone Redis. Resolves at once: while Redis is unreachable the
 * backend reports not ready and keeps retrying, so the gateway can start (and report unready) before Redis.
 */
export function connectRedis(options: RedisConnectionOptions): RedisBackend {
  return new StandaloneBackend(options);
}

class StandaloneBackend extends EventEmitter implements RedisBackend {
  commandTable: CommandTable | undefined;
  readonly #options: RedisConnectionOptions;
  readonly #shared: Client;
  readonly #userClients = new Map<string, Promise<Client>>();
  #lastErrorLog = 0;

  #isUp = false;

  constructor(options: RedisConnectionOptions) {
    super();
    this.#options = options;
    this.#shared = this.#createClient();
    this.#shared.on('ready', () => {
      options.logger.info({ redis: redactUrl(options.url) }, 'connected to Redis');
      this.#loadCommandTable();
    });
    this.#shared.on('reconnecting', () => this.emit('reconnecting'));
    const lost = () => {
      if (!this.#isUp) return;
      this.#isUp = false;
      this.emit('down');
    };
    this.#shared.on('error', lost);
    this.#shared.on('end', lost);
    this.#shared.connect().catch((error: Error) => {
      options.logger.error({ err: error }, 'gave up connecting to Redis');
    });
  }

  get isReady(): boolean {
    return this.#shared.isReady && this.commandTable !== undefined;
  }

  send(command: Command, user?: RedisUser): Promise<Reply> {
    if (user === undefined) return this.#sender(this.#shared)(command);
    return this.#clientFor(user).then((client) => this.#sender(client)(command));
  }

  async transaction(commands: Command[], user?: RedisUser): Promise<Reply[]> {
    const send = this.#sender(user === undefined ? this.#shared : await this.#clientFor(user));
    // One chain id keeps node-redis from carrying half a transaction over to a new connection.
    const chainId = Symbol('multi-exec');
    const queued = [['MULTI'], ...commands, ['EXEC']].map((command) => send(command, { chainId }));
    const settled = await Promise.allSettled(queued);
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

  async ping(): Promise<void> {
    await this.#shared.sendCommand(['PING']);
  }

  async close(): Promise<void> {
    const clients = [
      this.#shared,
      ...(await Promise.allSettled(this.#userClients.values())).flatMap((r) =>
        r.status === 'fulfilled' ? [r.value] : [],
      ),
    ];
    await Promise.all(clients.map((client) => (client.isOpen ? client.close() : undefined)));
  }

  #sender(client: Client): Sender {
    return client.sendCommand.bind(client) as unknown as Sender;
  }

  #createClient(user?: RedisUser): Client {
    const options = this.#options;
    const client = createClient({
      url: options.url,
      ...(user ? { username: user.username, password: user.password } : { password: options.password }),
      disableOfflineQueue: true,
      commandsQueueMaxLength: options.maxQueuedCommands ?? 100_000,
      commandOptions: { typeMapping: TYPE_MAPPING },
      socket: {
        connectTimeout: options.commandTimeoutMs,
        noDelay: true,
        keepAlive: true,
        reconnectStrategy: (retries: number) =>
          Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 100),
      },
    });
    client.on('error', (error: Error) => this.#logConnectionError(error, user));
    return client as unknown as Client;
  }

  /** Connection errors repeat on every retry while Redis is down; log the first and then every 10 s. */
  #logConnectionError(error: Error, user?: RedisUser) {
    const now = Date.now();
    if (now - this.#lastErrorLog < 10_000) return;
    this.#lastErrorLog = now;
    this.#options.logger.warn(
      {
        err: { message: error.message, code: (error as NodeJS.ErrnoException).code },
        redisUser: user?.username,
      },
      'Redis connection error; retrying',
    );
  }

  #loadCommandTable() {
    this.#shared
      .sendCommand(['COMMAND'], { typeMapping: {} })
      .then((reply) => {
        this.commandTable = CommandTable.fromCommandReply(reply);
        if (!this.#isUp && this.#shared.isReady) {
          this.#isUp = true;
          this.emit('up');
        }
      })
      .catch((error: Error) => {
        this.#options.logger.error({ err: error }, 'could not load the Redis command table');
      });
  }

  /** One lazily opened connection per ACL user, shared by every token that maps to that user. */
  #clientFor(user: RedisUser): Promise<Client> {
    const id = `${user.username}\0${user.password}`;
    let client = this.#userClients.get(id);
    if (client === undefined) {
      const created = this.#createClient(user);
      client = created.connect().then(() => created);
      client.catch(() => this.#userClients.delete(id));
      this.#userClients.set(id, client);
    }
    return client;
  }
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
