import { EventEmitter } from 'node:events';
import { CommandTable } from './command-table.js';
import type { RedisBackend } from './connect.js';
import { type ConnectionOptions, RedisConnection, redactUrl } from './connection.js';
import { type MessageListener, Subscriber, type SubscriptionKind, type Unsubscribe } from './subscriber.js';
import { type Command, type RedisUser, type Reply, userKey } from './types.js';

/**
 * A single Redis server: one shared connection, plus one lazily opened connection per Redis ACL user that
 * tokens map to. Also the building block of the Sentinel backend, which points one at the current master.
 */
export class StandaloneBackend extends EventEmitter implements RedisBackend {
  commandTable: CommandTable | undefined;
  readonly #options: ConnectionOptions;
  readonly #shared: RedisConnection;
  readonly #userConnections = new Map<string, RedisConnection>();
  readonly #subscribers = new Map<string, Subscriber>();
  #isUp = false;

  constructor(options: ConnectionOptions) {
    super();
    this.#options = options;
    this.#shared = new RedisConnection(options);
    this.#shared.on('up', () => {
      options.logger.info({ redis: redactUrl(options.url) }, 'connected to Redis');
      this.#loadCommandTable();
    });
    this.#shared.on('reconnecting', () => this.emit('reconnecting'));
    this.#shared.on('down', () => {
      if (!this.#isUp) return;
      this.#isUp = false;
      this.emit('down');
    });
  }

  get isReady(): boolean {
    return this.#shared.isReady && this.commandTable !== undefined;
  }

  /** `host:port` of the server. */
  get address(): string {
    return this.#shared.address;
  }

  send(command: Command, user?: RedisUser): Promise<Reply> {
    return this.connectionFor(user).send(command);
  }

  transaction(commands: Command[], user?: RedisUser): Promise<Reply[]> {
    return this.connectionFor(user).transaction(commands);
  }

  subscribe(
    kind: SubscriptionKind,
    name: string,
    listener: MessageListener,
    onEnd: () => void,
    user?: RedisUser,
  ): Promise<Unsubscribe> {
    const id = userKey(user);
    let subscriber = this.#subscribers.get(id);
    if (subscriber === undefined) {
      subscriber = new Subscriber({ ...this.#options, user });
      this.#subscribers.set(id, subscriber);
    }
    return subscriber.subscribe(kind, name, listener, onEnd);
  }

  async ping(): Promise<void> {
    await this.#shared.send(['PING']);
  }

  async close(): Promise<void> {
    for (const subscriber of this.#subscribers.values()) subscriber.close();
    await Promise.all(
      [this.#shared, ...this.#userConnections.values()].map((connection) => connection.close()),
    );
  }

  /** The shared connection, or the one authenticated as `user`. */
  connectionFor(user?: RedisUser): RedisConnection {
    if (user === undefined) return this.#shared;
    const id = userKey(user);
    let connection = this.#userConnections.get(id);
    if (connection === undefined) {
      connection = new RedisConnection({ ...this.#options, user });
      this.#userConnections.set(id, connection);
    }
    return connection;
  }

  #loadCommandTable() {
    this.#shared
      .send(['COMMAND'], { typeMapping: {} })
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
}
