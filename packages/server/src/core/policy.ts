import type { Principal } from '../auth/principal.js';
import { type Role, roleOf } from '../auth/role.js';
import type { CommandInfo } from '../redis/command-table.js';
import { CROSS_DATABASE, roleAllows, SERVER_WIDE } from '../redis/grants.js';
import type { Arg, Command } from '../redis/types.js';

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
 * Commands that change how a connection speaks the protocol, which the command table does not flag:
 * `SCRIPT DEBUG` turns the connection into a debugger session (and `SYNC` mode freezes the whole server),
 * `ASKING` redirects the next command of whoever shares the connection, `CLIENT REPLY` (under CLIENT,
 * denied as a whole) silences replies. Denied for every scope.
 */
const PROTOCOL_STATE = new Set(['script|debug', 'asking']);

/**
 * Decides whether `principal` may run `command`, whose entry in the command table is `info` (undefined when
 * the server does not know the command). Returns undefined when allowed, otherwise the reason, naming the
 * command. Unknown commands are allowed through so that Redis answers with its own error.
 * @param scriptsNeedAdmin true when Redis cannot hold scripts to the caller's scope (no scope ACL users):
 *   then scripting commands need an admin token.
 */
export function denialReason(
  info: CommandInfo | undefined,
  principal: Principal,
  command: Command,
  scriptsNeedAdmin: boolean,
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
    if (name === 'monitor') {
      return 'MONITOR is not allowed here: stream it from POST /monitor (server-sent events, admin token)';
    }
    return `${shown} is not allowed: it changes or holds the state of a connection the gateway shares between callers`;
  }
  if (info === undefined) return undefined;
  if (PROTOCOL_STATE.has(info.name)) {
    return `${info.name.replace('|', ' ').toUpperCase()} is not allowed: it changes how the connection the gateway shares between callers speaks to Redis`;
  }
  if (isBlockingCall(info, name, command)) {
    return `${shown} is not allowed: a blocking command would stall the connection the gateway shares between callers`;
  }
  const role = roleOf(principal);
  const denial = roleDenial(info, role, shown);
  if (denial !== undefined) return denial;
  if (role !== 'admin' && info.name === 'copy' && hasOption(command, 3, 'db')) {
    return 'COPY with DB writes into another database: it needs the main admin token';
  }
  if (scriptsNeedAdmin && role !== 'admin' && info.categories.has('@scripting')) {
    return (
      `${shown} needs a token with scope "admin" on this gateway: it has no Redis ACL user per scope ` +
      "(see its start-up log), so Redis could not hold the script to this token's scope"
    );
  }
  return undefined;
}

/** Whether `option` (lower case) is among the arguments from `from` on. */
function hasOption(command: readonly Arg[], from: number, option: string): boolean {
  for (let i = from; i < command.length; i++) if (String(command[i]).toLowerCase() === option) return true;
  return false;
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

/**
 * Why a token of `role` may not run the command `info` describes (`shown`: its name as the message shows
 * it), judged by its role alone; undefined when it may. For commands the gateway runs on a dedicated
 * connection (MONITOR), where the rules for shared connections do not apply.
 */
export function roleDenial(info: CommandInfo, role: Role, shown: string): string | undefined {
  if (roleAllows(info, role)) return undefined;
  if (CROSS_DATABASE.has(info.name) || role === 'database-admin') {
    return `${shown} reaches past this database (or acts on the whole server): it needs the main admin token`;
  }
  if (info.isAdminOnly) {
    const kind = info.categories.has('@admin') || info.flags.has('admin') ? '@admin' : '@dangerous';
    return `${shown} is a ${kind} command: it needs a token with scope "admin"`;
  }
  if (SERVER_WIDE.has(info.name)) {
    return `${info.name.replace('|', ' ').toUpperCase()} acts on what the whole server shares: it needs a token with scope "admin"`;
  }
  return `${shown} writes: this token has scope "read"`;
}
