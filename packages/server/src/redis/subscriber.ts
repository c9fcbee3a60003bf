import { createClient, ErrorReply as DriverErrorReply } from '@redis/client';
import type { ConnectionOptions } from './connection.js';
import { ErrorReply } from './resp.js';

/** `subscribe` listens to channels by name, `psubscribe` to channels matching a glob pattern. */
export type SubscriptionKind = 'subscribe' | 'psubscribe';

/** Receives a published message (raw bytes) and the channel it was published to. */
export type MessageListener = (message: Buffer, channel: Buffer) => void;

/** Ends a subscription. */
export type Unsubscribe = () => Promise<void>;

type Client = ReturnType<typeof createClient>;

/**
 * The pub/sub connection of one Redis server (and user). A connection that subscribed can run nothing else,
 * so subscriptions never touch the shared command connection; one subscriber connection serves every
 * subscription of the process, each with its own listener, and node-redis subscribes again after a
 * reconnect. While it is disconnected, new subscriptions fail at once (503). (Pub/sub is off the hot path,
 * so it keeps node-redis, which handles resubscription; commands use RedisConnection, see decision 0007.)
 */
export class Subscriber {
  readonly #client: Client;
  readonly #connected: Promise<unknown>;
  /** Called when the subscriber closes for good (its server was replaced), ending the subscriptions. */
  readonly #onClose = new Set<() => void>();

  constructor(options: ConnectionOptions) {
    this.#client = createClient(clientOptions(options)) as unknown as Client;
    this.#client.on('error', () => {
      // Reported by the command connection to the same server; node-redis reconnects and resubscribes.
    });
    this.#connected = this.#client.connect().catch(() => undefined);
  }

  /**
   * Subscribes `listener` to a channel or pattern; resolves once Redis confirmed. `onEnd` runs if the
   * subscription ends without being unsubscribed (the server was replaced after a failover).
   * @throws the ErrorReply of a refused subscription (e.g. NOPERM for a Redis ACL user).
   */
  async subscribe(
    kind: SubscriptionKind,
    name: string,
    listener: MessageListener,
    onEnd: () => void,
  ): Promise<Unsubscribe> {
    await this.#connected;
    const client = this.#client;
    try {
      if (kind === 'subscribe') await client.subscribe(name, listener, true);
      else await client.pSubscribe(name, listener, true);
    } catch (error) {
      throw error instanceof DriverErrorReply ? new ErrorReply(error.message) : error;
    }
    this.#onClose.add(onEnd);
    return async () => {
      this.#onClose.delete(onEnd);
      if (!client.isReady) return;
      if (kind === 'subscribe') await client.unsubscribe(name, listener, true);
      else await client.pUnsubscribe(name, listener, true);
    };
  }

  close(): void {
    for (const end of this.#onClose) end();
    this.#onClose.clear();
    if (this.#client.isOpen) this.#client.destroy();
  }
}

/** node-redis options for a subscriber: the connection's credentials, fail-fast, capped jittered backoff. */
function clientOptions(options: ConnectionOptions) {
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
