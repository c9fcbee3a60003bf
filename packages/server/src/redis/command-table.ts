import type { Arg } from './types.js';

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
  /** Present on container commands (`CONFIG`, `CLIENT`, `OBJECT`, ...), keyed by `container|sub`. */
  readonly subcommands?: ReadonlyMap<string, CommandInfo>;
}

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
    return new CommandTable(commands);
  }

  get size(): number {
    return this.commands.size;
  }

  /** The info for a command line, resolving container commands to their subcommand when Redis knows it. */
  lookup(command: readonly Arg[]): CommandInfo | undefined {
    const name = String(command[0]).toLowerCase();
    const info = this.commands.get(name);
    if (info?.subcommands === undefined || command.length < 2) return info;
    return info.subcommands.get(`${name}|${String(command[1]).toLowerCase()}`) ?? info;
  }
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
    ...(subcommands ? { subcommands } : {}),
  };
}
