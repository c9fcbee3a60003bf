import type { createClient } from '@redis/client';
import type { ConnectionOptions } from './connection.js';
import { ErrorReply } from './resp.js';

/** `subscribe` listens to channels by name, `psubscribe` to channels matching a glob pattern. */
export type SubscriptionKind = 'subscribe' | 'psubscribe';

/** Receives a published message (raw bytes) and the channel it was published to. */
export type MessageListener = (message: Buffer, channel: Buffer) => void;

/** Ends a subscription. */
export type Unsubscribe = () => Promise<void>;

/** A channel or pattern a streaming route listens to, and whom to tell. */
export interface Subscription {
  readonly kind: SubscriptionKind;
  readonly name: string;
  readonly listener: MessageListener;
  /** Runs if the subscription ends without being unsubscribed (its server was replaced after a failover). */
  readonly onEnd: () => void;
}

type Client = ReturnType<typeof createClient>;

/**
 * Subscriptions open on Redis through the gateway's pub/sub connections (the `cachegate_redis_subscriptions`
 * gauge): one per channel or pattern of each open stream, back to 0 when no stream is open.
 */
export class SubscriptionCount {
  open = 0;
}

/**
 * The pub/sub connection of one Redis server (and user). A connection that subscribed can run nothing else,
 * so subscriptions never touch the shared command connection; one subscriber connection serves every
 * subscription of the process, each with its own listener, and node-redis subscribes again after a
 * reconnect. While it is disconnected, new subscriptions fail at once (503). (Pub/sub is off the hot path,
 * so it keeps node-redis, which handles resubscription; commands use RedisConnection, see decision 0007.
 * node-redis is loaded on the first subscription: a gateway that serves none does not hold it in memory.)
 */
export class Subscriber {
  readonly #client: Promise<Client>;
  #opened: Client | undefined;
  /** node-redis's error reply class, once loaded. */
  #DriverErrorReply: (new (message: string) => Error) | undefined;
  #isClosed = false;
  /** Called when the subscriber closes for good (its server was replaced), ending the subscriptions. */
  readonly #onClose = new Set<() => void>();
  readonly #count: SubscriptionCount;

  constructor(options: ConnectionOptions, count = new SubscriptionCount()) {
    this.#count = count;
    this.#client = import('@redis/client').then(async ({ createClient, ErrorReply: DriverErrorReply }) => {
      this.#DriverErrorReply = DriverErrorReply;
      const client = createClient(clientOptions(options)) as unknown as Client;
      client.on('error', () => {
        // Reported by the command connection to the same server; node-redis reconnects and resubscribes.
      });
      this.#opened = client;
      if (this.#isClosed) return client;
      await client.connect().catch(() => undefined);
      return client;
    });
  }

  /**
   * Subscribes the listener to a channel or pattern; resolves once Redis confirmed.
   * @throws the ErrorReply of a refused subscription (e.g. NOPERM for a Redis ACL user).
   */
  async subscribe({ kind, name, listener, onEnd }: Subscription): Promise<Unsubscribe> {
    const client = await this.#client;
    try {
      if (kind === 'subscribe') await client.subscribe(name, listener, true);
      else await client.pSubscribe(name, listener, true);
    } catch (error) {
      // node-redis's own error reply: the gateway answers Redis's refusals (NOPERM) as Redis errors.
      const refused = this.#DriverErrorReply !== undefined && error instanceof this.#DriverErrorReply;
      throw refused ? new ErrorReply(error.message) : error;
    }
    let isOpen = true;
    const forget = () => {
      if (!isOpen) return false;
      isOpen = false;
      this.#count.open--;
      this.#onClose.delete(ended);
      return true;
    };
    const ended = () => {
      if (forget()) onEnd();
    };
    this.#count.open++;
    this.#onClose.add(ended);
    return async () => {
      if (!forget() || !client.isReady) return;
      if (kind === 'subscribe') await client.unsubscribe(name, listener, true);
      else await client.pUnsubscribe(name, listener, true);
    };
  }

  close(): void {
    this.#isClosed = true;
    for (const end of this.#onClose) end();
    this.#onClose.clear();
    if (this.#opened?.isOpen) this.#opened.destroy();
  }
}

/** node-redis options for a subscriber: the connection's credentials, fail-fast, capped jittered backoff. */
function clientOptions(options: ConnectionOptions) {
  const credentials = options.user
    ? { username: options.user.username, password: options.user.password }
    : options.password === undefined
      ? {}
      : { password: options.password };
  // Pub/sub is not per database: no SELECT, which a scope user may not run.
  const url = new URL(options.url);
  url.pathname = '';
  return {
    url: url.toString(),
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
