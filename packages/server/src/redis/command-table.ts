import { replyMap } from './resp.js';
import type { Arg, Reply } from './types.js';

/**
 * What the connected Redis says about one command (or one subcommand, such as `config|get`), with the
 * answers the policy needs computed once at load time so the hot path only reads booleans.
 * @see https://redis.io/commands/command/
 */
export interface CommandInfo {
  /** Lower-case name; subcommands are `container|sub`. */
  readonly name: string;
  /** Redis's arity: positive = exact argument count, negative = at least that many. */
  readonly arity: number;
  readonly flags: ReadonlySet<string>;
  /** ACL categories, with their `@`. */
  readonly categories: ReadonlySet<string>;
  /** Only reads data (the `readonly` flag); safe for read-scope tokens. */
  readonly isReadonly: boolean;
  /** May change data or state others see: writes, scripts, functions, PUBLISH. */
  readonly isMutating: boolean;
  /** `@admin` or `@dangerous`: needs an admin-scope token. */
  readonly isAdminOnly: boolean;
  /** Can block the connection it runs on (`blocking` flag). */
  readonly isBlocking: boolean;
  /** Its reply may be kept in the near cache and shared between callers (see NEAR_CACHEABLE). */
  readonly isCacheable: boolean;
  /** Present on container commands (`CONFIG`, `CLIENT`, `OBJECT`, ...), keyed by `container|sub`. */
  readonly subcommands?: ReadonlyMap<string, CommandInfo>;
  /**
   * How a cluster client should run it when it has no key (Redis 7 command tips): `all_shards` means on
   * every master (`DBSIZE`, `KEYS`, `FLUSHALL`), `all_nodes` on every node, `special` needs its own logic.
   */
  readonly requestPolicy?: string;
  /** How the replies of a fanned-out command combine: `agg_sum`, `all_succeeded`, `agg_logical_and`, ... */
  readonly responsePolicy?: string;
  /** Where a command line's keys are, from the key specs (or the legacy first/last/step triple). */
  readonly keyFinders: readonly KeyFinder[];
}

/** One key spec, reduced to what locating keys needs. @see https://redis.io/docs/latest/develop/reference/key-specs/ */
export interface KeyFinder {
  readonly begin: { index: number } | { keyword: string; startFrom: number };
  readonly find:
    | { lastKey: number; keyStep: number; limit: number }
    | { keyNumIndex: number; firstKey: number; keyStep: number };
}

/**
 * Reads whose reply depends only on the data of their keys, so it may be kept until Redis invalidates one of
 * them, and shared between identical concurrent calls (decision 0014). Each must also be `readonly`, not
 * `blocking`, not tipped `nondeterministic_output`, with keys its key specs find, in the server's table.
 * Time-dependent reads (TTL, OBJECT IDLETIME) and random ones (SRANDMEMBER) are left out by design.
 */
const NEAR_CACHEABLE = new Set([
  'get',
  'mget',
  'strlen',
  'getrange',
  'exists',
  'type',
  'hget',
  'hmget',
  'hgetall',
  'hexists',
  'hlen',
  'hstrlen',
  'hkeys',
  'hvals',
  'llen',
  'lindex',
  'lrange',
  'scard',
  'sismember',
  'smismember',
  'smembers',
  'zcard',
  'zscore',
  'zmscore',
  'zrank',
  'zrange',
]);

/** Hash reads, whose fields may expire on their own from Redis 7.4 (HEXPIRE), unseen by PTTL. */
const HASH_READS = new Set(['hget', 'hmget', 'hgetall', 'hexists', 'hlen', 'hstrlen', 'hkeys', 'hvals']);

/**
 * The command table of the connected server, built from its `COMMAND` reply (Redis 6 and 7 formats), so the
 * policy follows the Redis version in use rather than a list frozen into the gateway.
 */
export class CommandTable {
  private constructor(private readonly commands: ReadonlyMap<string, CommandInfo>) {}

  /** Parses the raw reply of `COMMAND` (strings, not buffers). */
  static fromCommandReply(reply: unknown): CommandTable {
    if (!Array.isArray(reply)) throw new TypeError('COMMAND reply is not an array');
    const commands = new Map<string, CommandInfo>();
    for (const entry of reply) {
      const info = parseEntry(entry);
      commands.set(info.name, info);
    }
    if (commands.has('hexpire')) {
      for (const name of HASH_READS) {
        const info = commands.get(name);
        if (info !== undefined) commands.set(name, { ...info, isCacheable: false });
      }
    }
    return new CommandTable(commands);
  }

  get size(): number {
    return this.commands.size;
  }

  /** Every command the server knows (container commands with their subcommands). */
  all(): IterableIterator<CommandInfo> {
    return this.commands.values();
  }

  /** The info for a command line, resolving container commands to their subcommand when Redis knows it. */
  lookup(command: readonly Arg[]): CommandInfo | undefined {
    const name = String(command[0]).toLowerCase();
    const info = this.commands.get(name);
    if (info?.subcommands === undefined || command.length < 2) return info;
    return info.subcommands.get(`${name}|${String(command[1]).toLowerCase()}`) ?? info;
  }
}

/** The keys of a command line, in order, as Redis itself would find them. */
export function keysOf(info: CommandInfo, command: readonly Arg[]): Arg[] {
  const keys: Arg[] = [];
  const argc = command.length;
  for (const { begin, find } of info.keyFinders) {
    let first: number;
    if ('index' in begin) {
      first = begin.index;
    } else {
      const at = findKeyword(command, begin.keyword, begin.startFrom);
      if (at === undefined) continue;
      first = at + 1;
    }
    let last: number;
    let step: number;
    if ('lastKey' in find) {
      step = find.keyStep;
      if (find.lastKey >= 0) last = first + find.lastKey;
      else if (find.limit <= 1) last = argc + find.lastKey;
      else last = first + Math.floor((argc - first) / find.limit) + find.lastKey;
    } else {
      const count = Number(command[first + find.keyNumIndex]);
      if (!Number.isInteger(count) || count < 0) continue;
      step = find.keyStep;
      first += find.firstKey;
      last = first + (count - 1) * step;
    }
    for (let i = first; i <= last && i < argc && step > 0; i += step) keys.push(command[i] as Arg);
  }
  return keys;
}

function findKeyword(command: readonly Arg[], keyword: string, startFrom: number): number | undefined {
  const wanted = keyword.toLowerCase();
  if (startFrom >= 0) {
    for (let i = startFrom; i < command.length; i++)
      if (String(command[i]).toLowerCase() === wanted) return i;
  } else {
    for (let i = command.length + startFrom; i > 0; i--)
      if (String(command[i]).toLowerCase() === wanted) return i;
  }
  return undefined;
}

function parseKeyFinders(entry: unknown[]): KeyFinder[] {
  const specs = entry[8];
  if (Array.isArray(specs) && specs.length > 0) {
    return specs.flatMap((raw): KeyFinder[] => {
      const spec = replyMap(raw as Reply);
      const bs = replyMap(spec.begin_search);
      const fk = replyMap(spec.find_keys);
      const bsSpec = replyMap(bs.spec);
      const fkSpec = replyMap(fk.spec);
      const begin =
        bs.type === 'index'
          ? { index: Number(bsSpec.index) }
          : bs.type === 'keyword'
            ? { keyword: String(bsSpec.keyword), startFrom: Number(bsSpec.startfrom) }
            : undefined;
      const find =
        fk.type === 'range'
          ? { lastKey: Number(fkSpec.lastkey), keyStep: Number(fkSpec.keystep), limit: Number(fkSpec.limit) }
          : fk.type === 'keynum'
            ? {
                keyNumIndex: Number(fkSpec.keynumidx),
                firstKey: Number(fkSpec.firstkey),
                keyStep: Number(fkSpec.keystep),
              }
            : undefined;
      return begin && find ? [{ begin, find }] : [];
    });
  }
  // Redis 6: the legacy first/last/step triple, plus the script commands' numkeys, which it cannot express.
  const name = String(entry[0]).toLowerCase();
  if (/^(eval|evalsha|fcall)(_ro)?$/.test(name)) {
    return [{ begin: { index: 2 }, find: { keyNumIndex: 0, firstKey: 1, keyStep: 1 } }];
  }
  const [firstKey, lastKey, step] = [Number(entry[3]), Number(entry[4]), Number(entry[5])];
  return firstKey > 0
    ? [
        {
          begin: { index: firstKey },
          find: { lastKey: lastKey < 0 ? lastKey : lastKey - firstKey, keyStep: step, limit: 0 },
        },
      ]
    : [];
}

function parseEntry(entry: unknown): CommandInfo {
  if (!Array.isArray(entry) || entry.length < 6) throw new TypeError('malformed COMMAND entry');
  const name = String(entry[0]).toLowerCase();
  const flags = new Set((entry[2] as unknown[]).map((flag) => String(flag).toLowerCase()));
  // Redis >= 6 lists ACL categories at index 6; >= 7 lists subcommands at index 9.
  const categories = new Set(((entry[6] as unknown[] | undefined) ?? []).map((c) => String(c).toLowerCase()));
  const subEntries = (entry[9] as unknown[] | undefined) ?? [];
  const subcommands =
    subEntries.length > 0
      ? new Map(subEntries.map((sub) => parseEntry(sub)).map((sub) => [sub.name, sub] as const))
      : undefined;
  const isReadonly = flags.has('readonly');
  const tips = ((entry[7] as unknown[] | undefined) ?? []).map(String);
  const tip = (prefix: string) => tips.find((t) => t.startsWith(prefix))?.slice(prefix.length);
  const requestPolicy = tip('request_policy:');
  const responsePolicy = tip('response_policy:');
  const keyFinders = parseKeyFinders(entry);
  return {
    name,
    arity: Number(entry[1]),
    flags,
    categories,
    isReadonly,
    isMutating:
      !isReadonly &&
      (flags.has('write') ||
        flags.has('may_replicate') ||
        categories.has('@write') ||
        categories.has('@scripting') ||
        categories.has('@pubsub')),
    isAdminOnly: flags.has('admin') || categories.has('@admin') || categories.has('@dangerous'),
    isBlocking: flags.has('blocking'),
    isCacheable:
      NEAR_CACHEABLE.has(name) &&
      isReadonly &&
      !flags.has('blocking') &&
      !tips.includes('nondeterministic_output') &&
      keyFinders.length > 0,
    keyFinders,
    ...(requestPolicy ? { requestPolicy } : {}),
    ...(responsePolicy ? { responsePolicy } : {}),
    ...(subcommands ? { subcommands } : {}),
  };
}
