import { decodeValue, encodeValue } from './codec.js';
import { type Command, type CommandArg, toCommand } from './commands.js';
import { invalidArgument } from './errors.js';

/** A typed operation: the command it sends and how its raw RESP2 reply becomes the typed result. */
export interface Operation<T> {
  readonly command: Command;
  parse(reply: unknown): T;
}

/** Options of `set`. */
export interface SetOptions {
  /**
   * Time to live in seconds; fractions are allowed and sent as milliseconds (`PX`).
   * @default undefined (the key never expires)
   */
  ttl?: number;
  /** Only set the key when it does not exist yet (`NX`). @default false */
  nx?: boolean;
  /** Only set the key when it already exists (`XX`). @default false */
  xx?: boolean;
}

/** The operations shared by the clients and their pipelines, each a command plus a reply parser. */
export const operations = {
  /** @see https://redis.io/commands/get */
  get: <T>(key: string): Operation<T | null> => op(['GET', key], (reply) => decodeNullable<T>(reply)),

  /** @see https://redis.io/commands/set */
  set: (key: string, value: unknown, options: SetOptions = {}): Operation<boolean> => {
    if (options.nx && options.xx) throw invalidArgument('set: nx and xx cannot be combined');
    const command = ['SET', key, encodeValue(value)];
    if (options.ttl !== undefined) command.push(...ttlArgs(options.ttl, 'set'));
    if (options.nx) command.push('NX');
    if (options.xx) command.push('XX');
    return op(command, (reply) => reply !== null);
  },

  /** @see https://redis.io/commands/del */
  del: (keys: string | string[]): Operation<number> => op(['DEL', ...keyList(keys, 'del')], toNumber),

  /** @see https://redis.io/commands/mget */
  mget: <T>(keys: string[]): Operation<(T | null)[]> =>
    op(['MGET', ...keyList(keys, 'mget')], (reply) =>
      (reply as unknown[]).map((item) => decodeNullable<T>(item)),
    ),

  /** @see https://redis.io/commands/mset */
  mset: (entries: Record<string, unknown>): Operation<undefined> => {
    const pairs = Object.entries(entries);
    if (pairs.length === 0) throw invalidArgument('mset: needs at least one entry');
    return op(['MSET', ...pairs.flatMap(([key, value]) => [key, encodeValue(value)])], () => undefined);
  },

  /** @see https://redis.io/commands/incr */
  incr: (key: string): Operation<number> => op(['INCR', key], toNumber),

  /** Seconds may be fractional (sent as `PEXPIRE`). @see https://redis.io/commands/expire */
  expire: (key: string, seconds: number): Operation<boolean> => {
    const [unit, amount] = ttlArgs(seconds, 'expire');
    return op([unit === 'EX' ? 'EXPIRE' : 'PEXPIRE', key, amount], (reply) => reply === 1);
  },

  /** Seconds left; -1 when the key has no expiry, -2 when it does not exist. @see https://redis.io/commands/ttl */
  ttl: (key: string): Operation<number> => op(['TTL', key], toNumber),

  /** How many of the keys exist (a key named twice counts twice). @see https://redis.io/commands/exists */
  exists: (keys: string | string[]): Operation<number> =>
    op(['EXISTS', ...keyList(keys, 'exists')], toNumber),

  /** Any command, with its raw reply: strings, integers, null and arrays; values are not JSON-decoded. */
  command: <T>(args: readonly CommandArg[]): Operation<T> => {
    if (args.length === 0) throw invalidArgument('command: needs at least the command name');
    return op(toCommand(args), (reply) => reply as T);
  },
};

function op<T>(command: Command, parse: (reply: unknown) => T): Operation<T> {
  return { command, parse };
}

function decodeNullable<T>(reply: unknown): T | null {
  return reply === null || reply === undefined ? null : decodeValue<T>(String(reply));
}

function toNumber(reply: unknown): number {
  return Number(reply);
}

function keyList(keys: string | string[], operation: string): string[] {
  const list = typeof keys === 'string' ? [keys] : keys;
  if (list.length === 0) throw invalidArgument(`${operation}: needs at least one key`);
  return list;
}

/** `EX n` for whole seconds, `PX ms` for fractions; rejects what Redis would reject, with a clearer message. */
export function ttlArgs(seconds: number, operation: string): ['EX' | 'PX', string] {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw invalidArgument(`${operation}: ttl must be a positive number of seconds, got ${seconds}`);
  }
  if (Number.isInteger(seconds)) return ['EX', String(seconds)];
  return ['PX', String(Math.max(1, Math.round(seconds * 1000)))];
}
