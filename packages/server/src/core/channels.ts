import { RESERVED_PREFIX, tenantPrefix } from '../auth/namespace.js';
import type { Principal } from '../auth/principal.js';
import type { CommandInfo } from '../redis/command-table.js';
import type { Subscription } from '../redis/subscriber.js';
import type { Arg, Command, Reply } from '../redis/types.js';

/**
 * Pub/sub kept per database (decision 0018). Redis channels belong to the server, not to a database, so
 * tenants of one server would hear each other: the gateway gives each tokens-file database a namespace
 * (`cachegate:<database>:`), adds it to every channel the tenant names, removes it from every channel the
 * tenant hears or lists, and its Redis users may publish nowhere else, scripts included. The main
 * database's tokens keep plain names, minus the gateway's prefix, and hear no other database's keyspace
 * notifications.
 */

/** A command as it goes to Redis for a principal, and how its reply comes back. */
export interface ScopedCommand {
  readonly args: Command;
  readonly reply?: (reply: Reply) => Reply;
}

const PUBLISHING = new Set(['publish', 'spublish']);
const LISTING = new Set(['pubsub|channels', 'pubsub|shardchannels']);
const COUNTING = new Set(['pubsub|numsub', 'pubsub|shardnumsub']);

/**
 * A pub/sub command in `principal`'s namespace: undefined when it needs no change, a denial (the reason)
 * when it would reach another database's channels.
 */
export function scopeChannels(
  info: CommandInfo,
  args: Command,
  principal: Principal,
): ScopedCommand | string | undefined {
  const name = info.name;
  const isPublishing = PUBLISHING.has(name);
  const isCounting = COUNTING.has(name);
  if (!isPublishing && !isCounting && !LISTING.has(name) && name !== 'pubsub|numpat') return undefined;
  const database = principal.database?.name;
  if (database === undefined) {
    const named = isPublishing ? args.slice(1, 2) : isCounting ? args.slice(2) : [];
    if (named.some(isReserved)) {
      return `Channels starting with "${RESERVED_PREFIX}" are the gateway's own and other databases'`;
    }
    if (!LISTING.has(name)) return undefined;
    return { args, reply: (reply) => (Array.isArray(reply) ? reply.filter((c) => !isReserved(c)) : reply) };
  }
  const prefix = tenantPrefix(database);
  if (name === 'pubsub|numpat') {
    return 'PUBSUB NUMPAT counts the patterns of every database on the server: a tokens-file database has no use of it';
  }
  const [command, second, ...rest] = args as [Arg, Arg, ...Arg[]];
  if (isPublishing) return { args: [command, withPrefix(prefix, second), ...rest] };
  if (isCounting) {
    return {
      args: [command, second, ...rest.map((channel) => withPrefix(prefix, channel))],
      reply: (reply) =>
        Array.isArray(reply)
          ? reply.map((item, i) => (i % 2 === 0 ? withoutPrefix(prefix, item) : item))
          : reply,
    };
  }
  return {
    args: [command, second, withPrefix(prefix, rest[0] ?? '*')],
    reply: (reply) => (Array.isArray(reply) ? reply.map((item) => withoutPrefix(prefix, item)) : reply),
  };
}

/**
 * A subscription in `principal`'s namespace, or a denial. A tenant's names get its prefix, and what it
 * hears loses it; the main database's tokens may not name the gateway's prefix, and hear neither it nor
 * keyspace notifications of databases other than `mainDb` (a pattern such as `*` would match them).
 */
export function scopeSubscription(
  subscription: Subscription,
  principal: Principal,
  mainDb: number,
): Subscription | string {
  const database = principal.database?.name;
  const { listener } = subscription;
  if (database !== undefined) {
    const prefix = tenantPrefix(database);
    return {
      ...subscription,
      name: prefix + subscription.name,
      listener: (message, channel) => listener(message, channel.subarray(Buffer.byteLength(prefix))),
    };
  }
  if (isReserved(subscription.name)) {
    return `Channels starting with "${RESERVED_PREFIX}" are the gateway's own and other databases'`;
  }
  return {
    ...subscription,
    listener: (message, channel) => {
      if (!isReserved(channel) && !isOtherKeyspace(channel, mainDb)) listener(message, channel);
    },
  };
}

const RESERVED = Buffer.from(RESERVED_PREFIX);
const KEYSPACE = /^__key(?:space|event)@(\d+)__:/;

function isReserved(name: Reply | Arg): boolean {
  if (Buffer.isBuffer(name)) return name.subarray(0, RESERVED.length).equals(RESERVED);
  return typeof name === 'string' && name.startsWith(RESERVED_PREFIX);
}

function isOtherKeyspace(channel: Buffer, mainDb: number): boolean {
  if (channel[0] !== 95) return false; // '_'
  const match = KEYSPACE.exec(channel.toString('latin1', 0, 40));
  return match !== null && Number(match[1]) !== mainDb;
}

function withPrefix(prefix: string, name: Arg): Arg {
  return typeof name === 'string' ? prefix + name : Buffer.concat([Buffer.from(prefix), name]);
}

function withoutPrefix(prefix: string, name: Reply): Reply {
  if (typeof name === 'string' && name.startsWith(prefix)) return name.slice(prefix.length);
  if (Buffer.isBuffer(name)) return name.subarray(Buffer.byteLength(prefix));
  return name;
}
