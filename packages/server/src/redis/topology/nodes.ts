import { CommandTable } from '../command-table.js';
import type { ConnectionOptions, RedisConnection } from '../connection.js';
import type { NearCacheOptions } from '../near-cache.js';
import { RedisNode } from '../node.js';
import { replyAsText } from '../resp.js';
import type { ScopeUsers } from '../scope-users.js';
import type { SubscriptionCount } from '../subscriber.js';
import type { ShardOptions } from './shard.js';

/** What every node of one Redis is opened with, whatever the topology. */
export interface NodeSettings extends Omit<ConnectionOptions, 'url' | 'user' | 'startAfter' | 'readOnly'> {
  scopeUsers: ScopeUsers;
  /** Keep a near cache of each primary's reads (CACHEGATE_NEAR_CACHE). @default none */
  nearCache?: NearCacheOptions | undefined;
  /** Where open subscriptions are counted. @default per node */
  subscriptions?: SubscriptionCount | undefined;
  /** How shards pick the node for reads. */
  shard: ShardOptions;
}

/**
 * The command table of one Redis, shared by its nodes: loaded from the first node prepared, and loaded
 * again whenever a primary comes back (so it follows an upgrade in place).
 */
export class CommandTableSource {
  table: CommandTable | undefined;

  /** The table, read through `own` when there is none yet or `reload` says so. */
  async from(own: RedisConnection, reload: boolean): Promise<CommandTable> {
    if (this.table !== undefined && !reload) return this.table;
    const [reply] = await own.send([['COMMAND']], Date.now() + 10_000);
    this.table = CommandTable.fromCommandReply(replyAsText(reply ?? null));
    return this.table;
  }
}

/**
 * Opens a node at `url`: a primary (with the near cache, when on, and a reload of the command table each
 * time it comes up), or a replica (no near cache: its reads are not cached, decision 0021; `READONLY` on a
 * Cluster replica).
 */
export function openNode(
  settings: NodeSettings,
  url: string,
  role: 'primary' | 'replica',
  table: CommandTableSource,
  options: { readOnly?: boolean; reloadTable?: boolean } = {},
): RedisNode {
  const { nearCache, shard: _shard, ...rest } = settings;
  return new RedisNode({
    ...rest,
    url,
    readOnly: options.readOnly,
    nearCache: role === 'primary' ? nearCache : undefined,
    commandTable: (own) => table.from(own, options.reloadTable === true),
  });
}

/** The URL of another node of the same Redis: `address` in place of the host and port, all else kept. */
export function urlOf(base: string, address: string): string {
  const url = new URL(base);
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at);
  url.hostname = host.includes(':') ? `[${host}]` : host;
  url.port = address.slice(at + 1);
  return url.toString();
}
