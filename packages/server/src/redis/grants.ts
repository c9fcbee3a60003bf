import type { Role } from '../auth/role.js';
import type { CommandInfo } from './command-table.js';

/**
 * Pub/sub listening, which any scope may do (it reads). Redis files it under `@pubsub` with PUBLISH; the
 * command routes deny it anyway (CONNECTION_STATE), so this grants it only on the subscription connections.
 */
export const LISTENING = new Set(['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe']);

/**
 * Commands Redis files under neither `@admin` nor `@dangerous` that act on what the whole server shares, so
 * they need an admin token: the function libraries (a write token replacing one would have an admin's FCALL
 * run its code with the gateway's own rights), the script cache and the kill of another caller's script,
 * the allocator, and the cluster's topology.
 */
export const SERVER_WIDE = new Set([
  'function|load',
  'function|delete',
  'function|flush',
  'function|restore',
  'function|kill',
  'script|flush',
  'script|kill',
  'memory|purge',
  'memory|stats',
  'memory|doctor',
  'memory|malloc-stats',
  'cluster|info',
  'cluster|nodes',
  'cluster|shards',
  'cluster|slots',
  'cluster|links',
  'cluster|myid',
  'cluster|myshardid',
]);

/**
 * Commands that reach past the database they run in: another database (SELECT is a connection's state,
 * denied above, but scripts could call it), every database (FLUSHALL), another server (MIGRATE). Tenants
 * of one Redis server are databases of it, so only the main admin runs these (decision 0018).
 */
export const CROSS_DATABASE = new Set(['select', 'move', 'swapdb', 'migrate', 'flushall']);

/**
 * Whether a token of `role` may run the command (or subcommand) `info` describes, judged by Redis's own
 * flags and ACL categories alone. The command policy applies it to every command it sees, and the role's
 * Redis ACL user is granted exactly the commands it allows, so the two cannot disagree. A database admin
 * may also run the `@dangerous` commands that stay within its database (KEYS, FLUSHDB, SORT, RESTORE), not
 * `@admin` ones, nor INFO (it describes every database).
 */
export function roleAllows(info: CommandInfo, role: Role): boolean {
  if (role === 'admin' || LISTENING.has(info.name)) return true;
  if (CROSS_DATABASE.has(info.name)) return false;
  if (role === 'database-admin') {
    if (roleAllows(info, 'write')) return true;
    return (
      !SERVER_WIDE.has(info.name) &&
      !info.categories.has('@admin') &&
      !info.flags.has('admin') &&
      info.name !== 'info'
    );
  }
  if (info.isAdminOnly || SERVER_WIDE.has(info.name)) return false;
  return role === 'write' || !info.isMutating;
}
