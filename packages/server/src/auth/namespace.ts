/**
 * Key and channel names the gateway keeps for itself on every Redis it serves: its own keys (rate-limit
 * counters, approved scripts, the saved hot set) and the channels of tokens-file databases. No scope user may touch them
 * (see ScopeUsers), and the main database's tokens may not name them.
 */
export const RESERVED_PREFIX = 'cachegate:';

/**
 * Where a tokens-file database's pub/sub lives: Redis channels are server-wide, not per database, so the
 * gateway adds this prefix to every channel a tenant names and removes it from what it hears
 * (decision 0018). Database names are `[A-Za-z0-9_.-]`, so the prefix holds no glob character.
 */
export function tenantPrefix(database: string): string {
  return `${RESERVED_PREFIX}${database}:`;
}

/**
 * True when an argument of the command starts with the reserved prefix. It looks at every argument, not
 * only keys (so a value may match too): a cheap test that errs on the safe side, for the paths that run
 * commands with the gateway's own rights on a caller's behalf (the near cache's reader, shared reads).
 */
export function touchesReservedKey(args: readonly (string | Buffer)[]): boolean {
  // Typed by shape (a command line: text or bytes), so auth/ does not import redis/.
  for (let i = 1; i < args.length; i++) if (isReserved(args[i] as string | Buffer)) return true;
  return false;
}

function isReserved(arg: string | Buffer): boolean {
  return typeof arg === 'string'
    ? arg.startsWith(RESERVED_PREFIX)
    : arg.length >= RESERVED_PREFIX.length &&
        arg.toString('latin1', 0, RESERVED_PREFIX.length) === RESERVED_PREFIX;
}
