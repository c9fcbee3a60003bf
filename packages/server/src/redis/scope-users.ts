import { createHash, createHmac } from 'node:crypto';
import type { Principal, Scope } from '../auth/principal.js';
import type { CommandInfo, CommandTable } from '../core/command-table.js';
import { scopeAllows } from '../core/policy.js';
import type { RedisConnection } from './connection.js';
import { SCOPE_KEY_PATTERNS } from './reserved-keys.js';
import { ErrorReply, replyAsText, replyMap } from './resp.js';
import { type Logger, type RedisUser, type Reply, userKey } from './types.js';

/** Options for {@link ScopeUsers}. */
export interface ScopeUsersOptions {
  /** `auto`: create the users where the gateway's Redis user may; `off`: never (scripts need admin). */
  mode: 'auto' | 'off';
  /** The gateway's own Redis credentials, from which the users' passwords are derived. */
  secret: string;
  commandTimeoutMs: number;
  logger: Logger;
}

/** The Redis ACL user each non-admin scope runs as. */
const SCOPE_USER: Record<'read' | 'write', string> = { read: 'cachegate-read', write: 'cachegate-write' };

type Limited = Exclude<Scope, 'admin'>;

/**
 * Least privilege enforced by Redis itself (decision 0008). The gateway checks each command a token sends,
 * but not what a script or function calls inside Redis; so read and write traffic runs as Redis ACL users
 * (`cachegate-read`, `cachegate-write`) granted exactly what {@link scopeAllows} allows, judged from the
 * same command table, and Redis refuses the rest wherever it is called from. Admin traffic keeps the
 * gateway's own user.
 *
 * A token mapped to its own Redis user in the tokens file gets a derived user, `cachegate-<scope>-<user>`:
 * that user's key, channel and command rules with everything its scope may not run removed, so scripts are
 * held to both.
 *
 * The users are (re)applied on every node, every time the gateway's own connection to it comes up, because
 * ACLs are neither persisted by default nor replicated. `ACL SETUSER` is idempotent and the passwords are
 * derived from the gateway's own Redis credentials (an HMAC), so every gateway process in front of the same
 * Redis writes the same users, and nothing new is stored anywhere. Where the gateway may not manage users (no
 * ACL rights, or `mode: 'off'`), scripting commands need an admin token instead.
 */
export class ScopeUsers {
  readonly #options: ScopeUsersOptions;
  /** Known after the first node answered: whether scope users exist. */
  #enforced = false;
  #reported = false;
  /** Tokens-file users, by userKey, with the scope their tokens have; and those whose derived user exists. */
  #tokenUsers = new Map<string, { user: RedisUser; scope: Limited }>();
  readonly #derived = new Map<string, RedisUser>();
  readonly #users = new Map<string, RedisUser>();
  #generation = 0;

  constructor(options: ScopeUsersOptions) {
    this.#options = options;
  }

  /** The tokens-file users to derive scoped users for; applied to each node at its next provisioning. */
  setTokenUsers(principals: Iterable<Principal>): void {
    this.#tokenUsers = new Map();
    for (const { redisUser, scope } of principals) {
      if (redisUser !== undefined && scope !== 'admin') {
        this.#tokenUsers.set(derivedKey(redisUser, scope), { user: redisUser, scope });
      }
    }
  }

  /** Changes whenever {@link userFor} may answer differently: caches keyed by principal start over. */
  get generation(): number {
    return this.#generation;
  }

  /** The Redis user `principal`'s commands run as; undefined means the gateway's own connection. */
  userFor(principal: Principal): RedisUser | undefined {
    const { redisUser, scope } = principal;
    if (scope === 'admin') return redisUser;
    if (redisUser !== undefined) return this.#derived.get(derivedKey(redisUser, scope)) ?? redisUser;
    return this.#enforced ? this.#user(SCOPE_USER[scope]) : undefined;
  }

  /** True when Redis cannot hold `principal`'s scripts to its scope, so they need an admin token. */
  scriptsNeedAdmin(principal: Principal): boolean {
    const { redisUser, scope } = principal;
    if (scope === 'admin') return false;
    if (redisUser !== undefined) return !this.#derived.has(derivedKey(redisUser, scope));
    return !this.#enforced;
  }

  /**
   * Creates or refreshes every user on one node, through the gateway's own connection to it. Never throws:
   * a node that refuses leaves scripts needing admin (first node) or its scope connections unable to log
   * in (later nodes: fail closed), and says so in the log.
   */
  async provision(own: RedisConnection, table: CommandTable): Promise<void> {
    try {
      await this.#provision(own, table);
    } finally {
      this.#generation++;
    }
  }

  async #provision(own: RedisConnection, table: CommandTable): Promise<void> {
    if (this.#options.mode === 'off') return this.#report(false, 'CACHEGATE_SCOPE_USERS=off');
    const deadline = () => Date.now() + this.#options.commandTimeoutMs;
    const scopeUsers = (['read', 'write'] as const).map((scope) => [
      'ACL',
      'SETUSER',
      SCOPE_USER[scope],
      ...this.#base(SCOPE_USER[scope]),
      // Every key but the gateway's own (decision 0036).
      ...SCOPE_KEY_PATTERNS,
      '&*',
      '-@all',
      ...grants(table, scope),
    ]);
    let replies: Reply[];
    try {
      replies = await own.send(scopeUsers, deadline());
    } catch (error) {
      this.#options.logger.warn({ err: error, redis: own.address }, 'could not create the scope ACL users');
      return;
    }
    const refused = replies.find((reply) => reply instanceof ErrorReply);
    if (refused !== undefined) {
      if (this.#enforced) {
        this.#options.logger.error(
          { redis: own.address, reason: refused.message },
          'this Redis node refused the scope ACL users: read and write tokens cannot use it',
        );
      }
      return this.#report(this.#enforced, refused.message);
    }
    this.#report(true);
    for (const [key, { user, scope }] of this.#tokenUsers) {
      const derived = await this.#deriveUser(own, table, user, scope, deadline());
      if (derived === undefined) this.#derived.delete(key);
      else this.#derived.set(key, derived);
    }
  }

  /** Creates `cachegate-<scope>-<user>`: the token user's rules minus what the scope may not run. */
  async #deriveUser(
    own: RedisConnection,
    table: CommandTable,
    user: RedisUser,
    scope: Limited,
    deadline: number,
  ): Promise<RedisUser | undefined> {
    const name = `cachegate-${scope}-${user.username}`;
    const why = (reason: string) => {
      this.#options.logger.warn(
        { redisUser: user.username, scope, reason },
        `scripting commands of tokens for Redis user "${user.username}" need admin scope: no scoped copy of the user`,
      );
      return undefined;
    };
    try {
      const [described] = await own.send([['ACL', 'GETUSER', user.username]], deadline);
      const rules = userRules(replyAsText(described ?? null));
      if (rules === undefined) return why('ACL GETUSER gave no usable rules (Redis 7 or later is needed)');
      const removed = denials(table, scope);
      const selectors = rules.selectors.map((selector) => `(${[...selector, ...removed].join(' ')})`);
      const [applied] = await own.send(
        [['ACL', 'SETUSER', name, ...this.#base(name), ...rules.root, ...removed, ...selectors]],
        deadline,
      );
      if (applied instanceof ErrorReply) return why(applied.message);
      return this.#user(name);
    } catch (error) {
      return why((error as Error).message);
    }
  }

  /** `reset on #<hash>`: the password is never sent, only its SHA-256, so no log or MONITOR shows it. */
  #base(name: string): string[] {
    const hash = createHash('sha256').update(this.#password(name)).digest('hex');
    return ['reset', 'on', `#${hash}`];
  }

  /** The credentials of a user the gateway manages, derived once: this is on every request's path. */
  #user(name: string): RedisUser {
    let user = this.#users.get(name);
    if (user === undefined) {
      user = { username: name, password: this.#password(name) };
      this.#users.set(name, user);
    }
    return user;
  }

  #password(name: string): string {
    return createHmac('sha256', this.#options.secret)
      .update(`cachegate scope user ${name}`)
      .digest('base64url');
  }

  #report(enforced: boolean, reason?: string) {
    this.#enforced = enforced;
    if (this.#reported) return;
    this.#reported = true;
    if (enforced)
      this.#options.logger.info(
        'read and write tokens run as Redis ACL users cachegate-read and cachegate-write',
      );
    else
      this.#options.logger.warn(
        { reason },
        'no Redis ACL user per scope: scripting commands (EVAL, FCALL, SCRIPT, FUNCTION) need an admin token',
      );
  }
}

/** `+command` for every command and subcommand `scope` may run. */
function grants(table: CommandTable, scope: Limited): string[] {
  return rulesFor(table, (info) => scopeAllows(info, scope), '+');
}

/** `-command` for every command and subcommand `scope` may not run. */
function denials(table: CommandTable, scope: Limited): string[] {
  return rulesFor(table, (info) => !scopeAllows(info, scope), '-');
}

function rulesFor(table: CommandTable, wanted: (info: CommandInfo) => boolean, sign: '+' | '-'): string[] {
  const rules: string[] = [];
  for (const info of table.all()) {
    for (const command of info.subcommands?.values() ?? [info]) {
      if (wanted(command)) rules.push(`${sign}${command.name}`);
    }
  }
  return rules;
}

/** A user's rules from its `ACL GETUSER` reply (Redis 7 format), ready to re-apply. */
function userRules(reply: Reply): { root: string[]; selectors: string[][] } | undefined {
  const fields = replyMap(reply);
  if (typeof fields.commands !== 'string' || !Array.isArray(fields.flags)) return undefined;
  const rulesOf = (map: Record<string, Reply>) =>
    [map.keys, map.channels, map.commands]
      .filter((part): part is string => typeof part === 'string')
      .flatMap((part) => part.split(' '))
      .filter((rule) => rule !== '');
  const enabled = fields.flags.includes('on') ? 'on' : 'off';
  const selectors = Array.isArray(fields.selectors) ? fields.selectors.map((s) => rulesOf(replyMap(s))) : [];
  return { root: [enabled, ...rulesOf(fields)], selectors };
}

function derivedKey(user: RedisUser, scope: Limited): string {
  return `${scope}\0${userKey(user)}`;
}
