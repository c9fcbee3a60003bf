import { EventEmitter } from 'node:events';
import type { Principal } from '../../auth/principal.js';
import type { NodeAddress } from '../backend.js';
import type { CommandTable } from '../command-table.js';
import { redactUrl } from '../connection.js';
import type { RedisFailure } from '../failure.js';
import type { RedisNode } from '../node.js';
import { CommandTableSource, type NodeSettings, openNode, urlOf } from './nodes.js';
import { Shard } from './shard.js';
import { PREPARING, type Topology } from './topology.js';

/** Options for {@link StandaloneTopology}. */
export interface StandaloneOptions extends NodeSettings {
  /** `redis[s]://[user[:password]@]host[:port][/db]` of the primary. */
  url: string;
  /**
   * Replicas of it to read from (CACHEGATE_REDIS_REPLICAS), reached with the primary's scheme, credentials
   * and database. @default none
   */
  replicas?: readonly NodeAddress[];
}

/**
 * A single Redis server, optionally with replicas the operator lists: one shard. A tokens-file database is
 * one too, without replicas.
 */
export class StandaloneTopology extends EventEmitter implements Topology {
  readonly isSharded = false;
  readonly #table = new CommandTableSource();
  readonly #primary: RedisNode;
  readonly #replicas: RedisNode[];
  readonly #shard: Shard;
  readonly #settings: StandaloneOptions;

  constructor(options: StandaloneOptions) {
    super();
    this.#settings = options;
    this.#primary = openNode(options, options.url, 'primary', this.#table, { reloadTable: true });
    this.#primary.on('up', () => {
      options.logger.info({ redis: redactUrl(options.url) }, 'connected to Redis');
      this.emit('up');
    });
    this.#primary.on('down', () => this.emit('down'));
    this.#primary.on('reconnecting', () => this.emit('reconnecting'));
    this.#primary.own.on('failure', (failure: RedisFailure) => this.emit('failure', failure));
    this.#replicas = (options.replicas ?? []).map(({ host, port }) =>
      openNode(options, urlOf(options.url, `${host}:${port}`), 'replica', this.#table),
    );
    this.#shard = new Shard('0', options.shard);
    this.#shard.setPrimary(this.#primary);
    this.#shard.setReplicas(this.#replicas);
  }

  get isReady(): boolean {
    return this.#primary.isReady && this.#table.table !== undefined;
  }

  get failure(): RedisFailure | undefined {
    if (this.isReady) return undefined;
    // Connected but not prepared yet (command table, scope users): nothing failed, it is on its way.
    return this.#primary.own.isReady ? PREPARING : this.#primary.own.failure;
  }

  get commandTable(): CommandTable | undefined {
    return this.#table.table;
  }

  shardFor(): Shard {
    return this.#shard;
  }

  shards(): readonly Shard[] {
    return [this.#shard];
  }

  nodeAt(): RedisNode {
    return this.#primary;
  }

  moved(): void {
    // Not sharded: Redis never redirects.
  }

  setTokenUsers(principals: Iterable<Principal>, sharesServer: boolean): void {
    this.#settings.scopeUsers.setTokenUsers(principals, sharesServer);
    for (const node of [this.#primary, ...this.#replicas]) void node.refreshUsers();
  }

  async close(): Promise<void> {
    this.#shard.stop();
    await Promise.all([this.#primary, ...this.#replicas].map((node) => node.close()));
  }
}
