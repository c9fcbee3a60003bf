import type { Principal } from './principal.js';

/**
 * What a token may do, as the policy and the Redis ACL users see it: its scope, except that the admin of a
 * tokens-file database administers that database only, not the server it shares with others.
 */
export type Role = 'read' | 'write' | 'admin' | 'database-admin';

/** The role of `principal`: its scope, `database-admin` for the admin token of a tokens-file database. */
export function roleOf(principal: Principal): Role {
  return principal.scope === 'admin' && principal.database !== undefined ? 'database-admin' : principal.scope;
}
