import type { RateLimitRule } from '../rate-limit-rule.js';
import type { CommandInfo } from './command-table.js';
import type { Arg, Command, RedisUser } from './types.js';

/** What a token may do: `read` < `write` < `admin`. */
export type Scope = 'read' | 'write' | 'admin';

/** Who is calling, as the auth plugin resolved it from the token. Never holds the token itself. */
export interface Principal {
  /** Token name, for logs and metrics. */
  readonly name: string;
  readonly scope: Scope;
  /** When set, this principal's commands run on a connection authenticated as this Redis ACL user. */
  readonly redisUser?: RedisUser;
  /** This token's own rate limit (tokens file), or 'off'; unset: `CACHEGATE_RATE_LIMIT` applies. */
  readonly rateLimit?: RateLimitRule | 'off';
}

/** How a batch of commands runs: alone, pipelined, or inside MULTI/EXEC. */
export type ExecutionMode = 'single' | 'pipeline' | 'transaction';

/**
 * Commands that change or hold the state of the connection they run on. The gateway shares its connections
 * between all callers, so none of these may run there (MULTI/EXEC are issued by `/multi-exec` itself).
 */
const CONNECTION_STATE = new Set([
  'auth',
  'hello',
  'select',
  'client',
  'quit',
  'reset',
  'readonly',
  'readwrite',
  'monitor',
  'sync',
  'psync',
  'replconf',
  'wait',
  'waitaof',
  'watch',
  'unwatch',
  'multi',
  'exec',
  'discard',
  'subscribe',
  'psubscribe',
  'ssubscribe',
  'unsubscribe',
  'punsubscribe',
  'sunsubscribe',
]);

const TRANSACTION = new Set(['multi', 'exec', 'discard', 'watch', 'unwatch']);

/**
 * Commands flagged `blocking` that block only when given the BLOCK option; without it they are plain reads.
 */
const BLOCKS_ONLY_WITH_OPTION = new Set(['xread', 'xreadgroup']);

/**
 * Decides whether `principal` may run `command`, whose entry in the command table is `info` (undefined when
 * the server does not know the command). Returns undefined when allowed, otherwise the reason, naming the
 * command. Unknown commands are allowed through so that Redis answers with its own error.
 */
export function denialReason(
  info: CommandInfo | undefined,
  principal: Principal,
  command: Command,
): string | undefined {
  const name = String(command[0]).toLowerCase();
  const shown = name.toUpperCase();
  if (CONNECTION_STATE.has(name)) {
    if (TRANSACTION.has(name)) {
      return `${shown} is not allowed: send transactions to /multi-exec, which wraps them in MULTI/EXEC itself`;
    }
    if (name === 'subscribe' || name === 'psubscribe') {
      return `${shown} is not allowed here: stream messages from /${name}/<channel> (server-sent events)`;
    }
    return `${shown} is not allowed: it changes or holds the state of a connection the gateway shares between callers`;
  }
  if (info === undefined) return undefined;
  if (isBlockingCall(info, name, command)) {
    return `${shown} is not allowed: a blocking command would stall the connection the gateway shares between callers`;
  }
  return scopeDenial(info, principal.scope, shown);
}

function isBlockingCall(info: CommandInfo, name: string, command: readonly Arg[]): boolean {
  if (!info.isBlocking) return false;
  if (!BLOCKS_ONLY_WITH_OPTION.has(name)) return true;
  // Options precede STREAMS; after it come key names, which may well be called "block".
  for (let i = 1; i < command.length; i++) {
    const option = String(command[i]).toLowerCase();
    if (option === 'streams') return false;
    if (option === 'block') return true;
    if (option === 'group') i += 2; // XREADGROUP GROUP <group> <consumer>: names, not options
  }
  return false;
}

function scopeDenial(info: CommandInfo, scope: Scope, shown: string): string | undefined {
  if (info.isAdminOnly && scope !== 'admin') {
    const kind = info.categories.has('@admin') || info.flags.has('admin') ? '@admin' : '@dangerous';
    return `${shown} is a ${kind} command: it needs a token with scope "admin"`;
  }
  if (info.isMutating && scope === 'read') {
    return `${shown} writes: this token has scope "read"`;
  }
  return undefined;
}
