/**
 * Key and channel names the gateway keeps for itself on every Redis it serves: its own keys (rate-limit
 * counters, approved scripts) and the channels of tokens-file databases. No scope user may touch them
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
