import { createHash, createHmac } from 'node:crypto';
import { type RedisUser, userKey } from '../auth/database.js';
import { RESERVED_PREFIX, tenantPrefix } from '../auth/namespace.js';
import type { Principal } from '../auth/principal.js';
import { type Role, roleOf } from '../auth/role.js';
import type { Logger } from '../log.js';
import type { CommandInfo, CommandTable } from './command-table.js';
import type { RedisConnection } from './connection.js';
import { roleAllows } from './grants.js';
import { ErrorReply, replyAsText, replyMap } from './resp.js';
import type { Reply } from './types.js';

/** Options for {@link ScopeUsers}. */
export interface ScopeUsersOptions {
  /** `auto`: create the users where the gateway's Redis user may; `off`: never (scripts need admin). */
  mode: 'auto' | 'off';
  /** The gateway's own Redis credentials, from which the users' passwords are derived. */
  secret: string;
  /** The tokens-file database these users serve; undefined for the main Redis. */
  database?: string | undefined;
  commandTimeoutMs: number;
  /**
   * Grant ROLE too: with CACHEGATE_READ_FROM=replicas the gateway follows each write with ROLE on the same
   * connection, to read the replication offset its sync token carries (decision 0021). No token reaches it:
   * the policy keeps ROLE (an `@admin` command) for admin tokens, and scripts cannot call it (`noscript`).
   * @default false
   */
  grantsRole?: boolean | undefined;
  logger: Logger;
}

/** Every role but the main admin, which keeps the gateway's own Redis user. */
type Limited = Exclude<Role, 'admin'>;

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
  /** Tokens-file users, by userKey, with the role their tokens have; and those whose derived user exists. */
  #tokenUsers = new Map<string, { user: RedisUser; role: Limited }>();
  readonly #derived = new Map<string, RedisUser>();
  readonly #users = new Map<string, RedisUser>();
  #generation = 0;
  /** Whether another database the gateway serves lives on the same server (see setTokenUsers). */
  #sharesServer = false;

  constructor(options: ScopeUsersOptions) {
    this.#options = options;
  }

  /**
   * The tokens-file users to derive scoped users for, and whether this database shares its server with
   * another the gateway serves (then COPY, whose DB option reaches the other, is not granted); applied to
   * each node at its next provisioning.
   */
  setTokenUsers(principals: Iterable<Principal>, sharesServer = false): void {
    this.#sharesServer = sharesServer;
    this.#tokenUsers = new Map();
    for (const principal of principals) {
      const role = roleOf(principal);
      const { redisUser } = principal;
      if (redisUser !== undefined && role !== 'admin') {
        this.#tokenUsers.set(derivedKey(redisUser, role), { user: redisUser, role });
      }
    }
  }

  /** Changes whenever {@link userFor} may answer differently: caches keyed by principal start over. */
  get generation(): number {
    return this.#generation;
  }

  /** The Redis user `principal`'s commands run as; undefined means the gateway's own connection. */
  userFor(principal: Principal): RedisUser | undefined {
    const role = roleOf(principal);
    const { redisUser } = principal;
    if (role === 'admin') return redisUser;
    if (redisUser !== undefined) return this.#derived.get(derivedKey(redisUser, role)) ?? redisUser;
    return this.#enforced ? this.#user(this.#nameOf(role)) : undefined;
  }

  /** True when Redis cannot hold `principal`'s scripts to its role, so they need the main admin token. */
  scriptsNeedAdmin(principal: Principal): boolean {
    const role = roleOf(principal);
    const { redisUser } = principal;
    if (role === 'admin') return false;
    if (redisUser !== undefined) return !this.#derived.has(derivedKey(redisUser, role));
    return !this.#enforced;
  }

  /** `cachegate-read` on the main Redis, `cachegate-read@<database>` for a tokens-file database. */
  #nameOf(role: Limited): string {
    const name = `cachegate-${role === 'database-admin' ? 'admin' : role}`;
    return this.#options.database === undefined ? name : `${name}@${this.#options.database}`;
  }

  /**
   * Key and channel rules every user gets: no key or channel under the gateway's own prefix (rate-limit
   * counters, tenants' channels), and a tokens-file database's channels only under its own prefix.
   */
  #fences(): string[] {
    const database = this.#options.database;
    const channels = database === undefined ? outside(RESERVED_PREFIX, '&') : [`&${tenantPrefix(database)}*`];
    return ['resetkeys', ...outside(RESERVED_PREFIX, '~'), 'resetchannels', ...channels];
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
    const roles: Limited[] =
      this.#options.database === undefined ? ['read', 'write'] : ['read', 'write', 'database-admin'];
    const scopeUsers = roles.map((role) => [
      'ACL',
      'SETUSER',
      this.#nameOf(role),
      ...this.#base(this.#nameOf(role)),
      ...this.#fences(),
      '-@all',
      ...grants(table, role, this.#sharesServer),
      ...this.#gatewayGrants(),
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
    for (const [key, { user, role }] of this.#tokenUsers) {
      const derived = await this.#deriveUser(own, table, user, role, deadline());
      if (derived === undefined) this.#derived.delete(key);
      else this.#derived.set(key, derived);
    }
  }

  /**
   * Creates `cachegate-<role>-<user>`: the token user's rules minus what the role may not run, its keys and
   * channels fenced as every scope user's are (see #fences).
   */
  async #deriveUser(
    own: RedisConnection,
    table: CommandTable,
    user: RedisUser,
    role: Limited,
    deadline: number,
  ): Promise<RedisUser | undefined> {
    const name = `cachegate-${role}-${user.username}`;
    const why = (reason: string) => {
      this.#options.logger.warn(
        { redisUser: user.username, role, reason },
        `scripting commands of tokens for Redis user "${user.username}" need admin scope: no scoped copy of the user`,
      );
      return undefined;
    };
    try {
      const [described] = await own.send([['ACL', 'GETUSER', user.username]], deadline);
      const rules = userRules(replyAsText(described ?? null), this.#options.database);
      if (rules === undefined) return why('ACL GETUSER gave no usable rules (Redis 7 or later is needed)');
      const removed = denials(table, role, this.#sharesServer);
      const selectors = rules.selectors.map((selector) => `(${[...selector, ...removed].join(' ')})`);
      const [applied] = await own.send(
        [
          [
            'ACL',
            'SETUSER',
            name,
            ...this.#base(name),
            ...rules.root,
            ...removed,
            ...this.#gatewayGrants(),
            ...selectors,
          ],
        ],
        deadline,
      );
      if (applied instanceof ErrorReply) return why(applied.message);
      return this.#user(name);
    } catch (error) {
      return why((error as Error).message);
    }
  }

  /** Commands the gateway itself sends on the users' connections, beyond what their role allows. */
  #gatewayGrants(): string[] {
    return this.#options.grantsRole === true ? ['+role'] : [];
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

/**
 * Whether the user of `role` is granted `info`: what the role allows, but COPY on a server another database
 * shares (its DB option would reach that database, and Redis ACLs cannot tell the option apart).
 */
function isGranted(info: CommandInfo, role: Limited, sharesServer: boolean): boolean {
  return roleAllows(info, role) && !(sharesServer && info.name === 'copy');
}

/** `+command` for every command and subcommand `role` may run. */
function grants(table: CommandTable, role: Limited, sharesServer: boolean): string[] {
  return rulesFor(table, (info) => isGranted(info, role, sharesServer), '+');
}

/** `-command` for every command and subcommand `role` may not run. */
function denials(table: CommandTable, role: Limited, sharesServer: boolean): string[] {
  return rulesFor(table, (info) => !isGranted(info, role, sharesServer), '-');
}

/**
 * ACL patterns (`~` keys, `&` channels) matching every name but those starting with `prefix`: Redis
 * patterns cannot exclude, so the complement is spelled out: for each position of the prefix, the names that
 * agree with it before that position and differ at it (`[^c]*`, `c[^a]*`, ...), and each proper beginning of
 * it exactly, the empty name included (`c`, `ca`, ..., and the bare sigil).
 */
export function outside(prefix: string, sigil: '~' | '&'): string[] {
  const patterns: string[] = [];
  for (let i = 0; i < prefix.length; i++) {
    const head = escapeGlob(prefix.slice(0, i));
    patterns.push(`${sigil}${head}[^${escapeInClass(prefix.charAt(i))}]*`, `${sigil}${head}`);
  }
  return patterns;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function escapeInClass(c: string): string {
  return c === ']' || c === '\\' || c === '^' || c === '-' ? `\\${c}` : c;
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

/**
 * A user's rules from its `ACL GETUSER` reply (Redis 7 format), ready to re-apply, with its keys and
 * channels fenced: every key (`~*`) becomes every key outside the gateway's prefix, every channel (`&*`)
 * every channel outside it; for a tokens-file `database`, each channel pattern moves under the database's
 * prefix, where the gateway puts its channels.
 */
function userRules(
  reply: Reply,
  database: string | undefined,
): { root: string[]; selectors: string[][] } | undefined {
  const fields = replyMap(reply);
  if (typeof fields.commands !== 'string' || !Array.isArray(fields.flags)) return undefined;
  const words = (part: Reply | undefined) =>
    typeof part === 'string' ? part.split(' ').filter((rule) => rule !== '') : [];
  const fence = (rule: string): string[] => {
    if (rule === '~*' || rule === 'allkeys') return outside(RESERVED_PREFIX, '~');
    if (rule === '&*' || rule === 'allchannels')
      return database === undefined ? outside(RESERVED_PREFIX, '&') : [`&${tenantPrefix(database)}*`];
    if (database !== undefined && rule.startsWith('&')) return [`&${tenantPrefix(database)}${rule.slice(1)}`];
    return [rule];
  };
  const rulesOf = (map: Record<string, Reply>) => [
    ...words(map.keys).flatMap(fence),
    ...words(map.channels).flatMap(fence),
    ...words(map.commands),
  ];
  const enabled = fields.flags.includes('on') ? 'on' : 'off';
  const selectors = Array.isArray(fields.selectors) ? fields.selectors.map((s) => rulesOf(replyMap(s))) : [];
  return { root: [enabled, ...rulesOf(fields)], selectors };
}

function derivedKey(user: RedisUser, role: Limited): string {
  return `${role}\0${userKey(user)}`;
}
