import { createClient, ErrorReply, MultiErrorReply, type RedisClientType } from '@redis/client';
import { withDeadline } from './abort.js';
import { type Command, commandName } from './commands.js';
import { CachegateCommandError, CachegateError, CachegateUnavailableError, clientClosed } from './errors.js';
import type { Outcome, SendOptions, Transport } from './transport.js';

/** Options of {@link RedisTransport}. */
export interface RedisTransportOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. Required, no default. */
  url: string;
  /** Password, when it is not in the URL. @default undefined */
  password?: string | undefined;
  /** How long opening the connection may take, in milliseconds. @default 2000 */
  connectTimeoutMs?: number | undefined;
}

/**
 * Sends commands straight to Redis over one node-redis connection, opened on first use and reused. Replies
 * have the same RESP2 shape as the gateway's (strings, integers, null, arrays), and values go through the
 * same codec upstream, so data written through either transport reads back identically through the other.
 *
 * Commands cannot be recalled once written, so a send ignores its signal: `withTimeout` stops waiting for it.
 * Fails fast: no offline queue and no background reconnect loop. A broken connection is dropped and the
 * next send opens a new one, so a dead Redis costs one refused connect per call, never a hang.
 */
export class RedisTransport implements Transport {
  readonly #options: RedisTransportOptions;
  #client: RedisClientType | undefined;
  #connecting: Promise<RedisClientType> | undefined;
  #closed = false;

  constructor(options: RedisTransportOptions) {
    this.#options = options;
  }

  /** True while a connection is open. */
  get isConnected(): boolean {
    return this.#client?.isReady === true;
  }

  async send(commands: Command[], options: SendOptions): Promise<Outcome[]> {
    const client = await this.#open();
    try {
      return options.mode === 'transaction'
        ? await transaction(client, commands)
        : await pipeline(client, commands);
    } catch (error) {
      throw unavailable('Redis failed', error);
    }
  }

  /** True when Redis answers PING within `timeoutMs`. Never throws. */
  async isHealthy(timeoutMs: number): Promise<boolean> {
    try {
      return await withDeadline(
        timeoutMs,
        undefined,
        async () => (await (await this.#open()).ping()) === 'PONG',
      );
    } catch {
      return false;
    }
  }

  /** Closes the connection after its pending commands; a later send opens a new one unless closed for good. */
  async disconnect(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client?.isOpen) await client.close().catch(() => destroyQuietly(client));
  }

  /** Closes the connection; sends after this fail with `CG_ERR_CLIENT_CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#connecting?.catch(() => {});
    await this.disconnect();
  }

  #open(): Promise<RedisClientType> {
    if (this.#closed) return Promise.reject(clientClosed());
    if (this.#client?.isReady) return Promise.resolve(this.#client);
    // Concurrent callers share one connection attempt.
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<RedisClientType> {
    destroyQuietly(this.#client);
    this.#client = undefined;
    const client: RedisClientType = createClient({
      url: this.#options.url,
      ...(this.#options.password === undefined ? {} : { password: this.#options.password }),
      socket: { connectTimeout: this.#options.connectTimeoutMs ?? 2000, reconnectStrategy: false },
      disableOfflineQueue: true,
    });
    // Failures reach callers through their commands; an 'error' event without a listener would crash the process.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      destroyQuietly(client);
      throw unavailable(`Cannot connect to Redis at ${redactUrl(this.#options.url)}`, error);
    }
    if (this.#closed) {
      destroyQuietly(client);
      throw clientClosed();
    }
    this.#client = client;
    return client;
  }
}

/** Commands sent back to back; node-redis writes those issued in one tick together. */
function pipeline(client: RedisClientType, commands: Command[]): Promise<Outcome[]> {
  return Promise.all(
    commands.map((command) =>
      client.sendCommand(command).then(
        (value): Outcome => ({ ok: true, value }),
        (error: unknown): Outcome => {
          if (error instanceof ErrorReply) return { ok: false, error: commandError(command, error) };
          throw error;
        },
      ),
    ),
  );
}

/** MULTI/EXEC: per-command errors come back in MultiErrorReply; a discarded transaction fails them all. */
async function transaction(client: RedisClientType, commands: Command[]): Promise<Outcome[]> {
  const multi = client.multi();
  for (const command of commands) multi.addCommand(command);
  let replies: unknown[];
  try {
    replies = (await multi.exec()) as unknown[];
  } catch (error) {
    if (error instanceof MultiErrorReply) replies = error.replies as unknown[];
    else if (error instanceof ErrorReply) {
      const failure = new CachegateCommandError('MULTI', error.message, 'CG_ERR_TRANSACTION_ABORTED');
      return commands.map(() => ({ ok: false, error: failure }));
    } else throw error;
  }
  return replies.map((reply, index) =>
    reply instanceof ErrorReply
      ? { ok: false, error: commandError(commands[index] ?? [], reply) }
      : { ok: true, value: reply },
  );
}

/** Drops a connection; node-redis throws when it is already closed, which is the state we want anyway. */
function destroyQuietly(client: RedisClientType | undefined): void {
  try {
    client?.destroy();
  } catch {
    // Already closed.
  }
}

function commandError(command: Command, error: ErrorReply): CachegateCommandError {
  return new CachegateCommandError(commandName(command), error.message);
}

function unavailable(message: string, error: unknown): CachegateError {
  if (error instanceof CachegateError) return error;
  // Whether a command reached Redis is unknowable here; the hybrid client never re-sends after this path.
  return new CachegateUnavailableError(`${message}: ${(error as Error)?.message ?? error}`, {
    sent: true,
    cause: error,
  });
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return '<invalid url>';
  }
}
