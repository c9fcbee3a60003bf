/**
 * Commands as the SDK sends them, and which of them may be sent twice. The rules are recorded in
 * docs/decisions/0101-client-retry-safety.md.
 */

/** One Redis command as an array of text arguments: `['SET', 'key', '"value"', 'EX', '60']`. */
export type Command = string[];

/** An argument the generic `command()` accepts; numbers and booleans are sent as their text. */
export type CommandArg = string | number | boolean;

/**
 * Commands that never change data. Repeating one is always safe. The list covers what applications use;
 * a command missing here is treated as a write, which only costs a retry, never correctness.
 */
const READ_ONLY = new Set([
  'BITCOUNT',
  'BITPOS',
  'DBSIZE',
  'DUMP',
  'ECHO',
  'EVAL_RO',
  'EVALSHA_RO',
  'EXISTS',
  'EXPIRETIME',
  'FCALL_RO',
  'GEODIST',
  'GEOHASH',
  'GEOPOS',
  'GEOSEARCH',
  'GET',
  'GETBIT',
  'GETRANGE',
  'HEXISTS',
  'HGET',
  'HGETALL',
  'HKEYS',
  'HLEN',
  'HMGET',
  'HRANDFIELD',
  'HSCAN',
  'HSTRLEN',
  'HVALS',
  'KEYS',
  'LCS',
  'LINDEX',
  'LLEN',
  'LPOS',
  'LRANGE',
  'MGET',
  'PEXPIRETIME',
  'PFCOUNT',
  'PING',
  'PTTL',
  'RANDOMKEY',
  'SCAN',
  'SCARD',
  'SDIFF',
  'SINTER',
  'SINTERCARD',
  'SISMEMBER',
  'SMEMBERS',
  'SMISMEMBER',
  'SORT_RO',
  'SRANDMEMBER',
  'SSCAN',
  'STRLEN',
  'SUBSTR',
  'SUNION',
  'TIME',
  'TTL',
  'TYPE',
  'XLEN',
  'XRANGE',
  'XREVRANGE',
  'ZCARD',
  'ZCOUNT',
  'ZLEXCOUNT',
  'ZMSCORE',
  'ZRANDMEMBER',
  'ZRANGE',
  'ZRANGEBYLEX',
  'ZRANGEBYSCORE',
  'ZRANK',
  'ZREVRANGE',
  'ZREVRANGEBYLEX',
  'ZREVRANGEBYSCORE',
  'ZREVRANK',
  'ZSCAN',
  'ZSCORE',
]);

/**
 * Writes whose second application leaves the same data as the first: they set a state rather than change
 * it relatively. Their reply can differ on a repeat (a repeated DEL counts 0), which is the accepted price.
 */
const IDEMPOTENT_WRITES = new Set([
  'DEL',
  'HDEL',
  'HMSET',
  'HSET',
  'MSET',
  'PERSIST',
  'PSETEX',
  'SADD',
  'SETEX',
  'SREM',
  'TOUCH',
  'UNLINK',
  'ZREM',
]);

/** Writes that are idempotent only without the options listed: those make the reply depend on prior state. */
const IDEMPOTENT_UNLESS: Record<string, Set<string>> = {
  // SET NX/XX answers "was it set?"; a repeat would answer "no" for a write that did happen.
  SET: new Set(['NX', 'XX', 'GET']),
  EXPIRE: new Set(['NX', 'XX', 'GT', 'LT']),
  PEXPIRE: new Set(['NX', 'XX', 'GT', 'LT']),
  EXPIREAT: new Set(['NX', 'XX', 'GT', 'LT']),
  PEXPIREAT: new Set(['NX', 'XX', 'GT', 'LT']),
  ZADD: new Set(['NX', 'XX', 'GT', 'LT', 'CH', 'INCR']),
};

/** The upper-case name of a command, for classification and error messages. */
export function commandName(command: Command): string {
  return (command[0] ?? '').toUpperCase();
}

/** True when the command never changes data. */
export function isReadOnly(command: Command): boolean {
  return READ_ONLY.has(commandName(command));
}

/**
 * True when sending the command twice is as good as sending it once: read-only commands and the
 * idempotent writes above. Everything else (INCR, LPUSH, APPEND, EVAL, unknown commands) is not.
 */
export function isSafeToRepeat(command: Command): boolean {
  const name = commandName(command);
  if (READ_ONLY.has(name) || IDEMPOTENT_WRITES.has(name)) return true;
  const unless = IDEMPOTENT_UNLESS[name];
  if (unless === undefined) return false;
  return !command.slice(1).some((arg) => unless.has(arg.toUpperCase()));
}

/** Turns the arguments of the generic `command()` into text, as the gateway does with JSON numbers. */
export function toCommand(args: readonly CommandArg[]): Command {
  return args.map((arg) => (typeof arg === 'string' ? arg : String(arg)));
}
