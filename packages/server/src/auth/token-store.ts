import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseRateLimit, type RateLimitRule } from '../rate-limit-rule.js';
import { type DatabaseSettings, DEFAULT_DATABASE } from './database.js';
import type { Principal, Scope } from './principal.js';

/** One configured token, as the store keeps it: never the token, only its SHA-256 (base64). */
interface TokenEntry {
  readonly digest: string;
  readonly principal: Principal;
}

/** The tokens given by the single-token variables. */
export interface SingleTokens {
  token?: string | undefined;
  readonlyToken?: string | undefined;
  adminToken?: string | undefined;
}

/** One entry of a tokens file, as written. */
interface FileEntry {
  name: string;
  token?: string;
  sha256?: string;
  scope: Scope;
  redisUser?: string;
  redisPassword?: string;
  rateLimit?: RateLimitRule | 'off';
  database?: string;
  redisUrl?: string;
  redisUrlPassword?: string;
  redisTlsCa?: string;
}

const FIELDS = [
  'name',
  'token',
  'sha256',
  'scope',
  'redisUser',
  'redisPassword',
  'rateLimit',
  'database',
  'redisUrl',
  'redisUrlPassword',
  'redisTlsCa',
];
const SCOPES: readonly string[] = ['read', 'write', 'admin'];
/** Database names end up in metric labels and health output: plain, short words. */
const DATABASE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Checks one entry, adding a problem per wrong field (`<index>.<field>: ...`); undefined if any. */
function checkEntry(raw: unknown, index: number, problems: string[]): FileEntry | undefined {
  const before = problems.length;
  const problem = (field: string, message: string) =>
    problems.push(`${index}${field ? `.${field}` : ''}: ${message}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problem('', 'must be an object {name, token|sha256, scope, ...}');
    return undefined;
  }
  const entry = raw as Record<string, unknown>;
  for (const key of Object.keys(entry)) if (!FIELDS.includes(key)) problem('', `unrecognized key "${key}"`);
  const isText = (value: unknown) => typeof value === 'string';
  if (!isText(entry.name) || entry.name === '' || String(entry.name).length > 64)
    problem('name', 'must be 1 to 64 characters');
  if (entry.token !== undefined && (!isText(entry.token) || String(entry.token).length < 16))
    problem('token', 'must be at least 16 characters');
  if (entry.sha256 !== undefined && !(isText(entry.sha256) && /^[0-9a-f]{64}$/i.test(String(entry.sha256))))
    problem('sha256', 'must be 64 hex digits');
  if ((entry.token === undefined) === (entry.sha256 === undefined))
    problem('', 'give exactly one of "token" and "sha256"');
  if (!SCOPES.includes(String(entry.scope))) problem('scope', 'must be one of read, write, admin');
  if (entry.redisUser !== undefined && (!isText(entry.redisUser) || entry.redisUser === ''))
    problem('redisUser', 'must be a user name');
  if (entry.redisPassword !== undefined && !isText(entry.redisPassword))
    problem('redisPassword', 'must be a string');
  if (entry.redisPassword !== undefined && entry.redisUser === undefined)
    problem('', '"redisPassword" needs "redisUser"');
  checkDatabase(entry, problem);
  let rateLimit: RateLimitRule | 'off' | undefined;
  if (entry.rateLimit !== undefined) {
    const rule = entry.rateLimit === 'off' ? 'off' : parseRateLimit(String(entry.rateLimit));
    if (typeof rule === 'string' && rule !== 'off')
      problem('rateLimit', `must be "off" or ${rule.replace('must ', '')}`);
    else rateLimit = rule;
  }
  if (problems.length > before) return undefined;
  return { ...(entry as unknown as FileEntry), ...(rateLimit === undefined ? {} : { rateLimit }) };
}

/** The per-entry checks of the database fields. Never echoes a URL: it may hold a password. */
function checkDatabase(entry: Record<string, unknown>, problem: (field: string, message: string) => void) {
  const { database, redisUrl, redisUrlPassword, redisTlsCa } = entry;
  if (database !== undefined && !(typeof database === 'string' && DATABASE_NAME.test(database)))
    problem('database', "must be 1 to 64 letters, digits, '_', '.' or '-'");
  if (database === DEFAULT_DATABASE && redisUrl !== undefined)
    problem('database', `"${DEFAULT_DATABASE}" is the main Redis (CACHEGATE_REDIS_URL): choose another name`);
  if (redisUrl !== undefined) {
    const url = typeof redisUrl === 'string' ? parseUrl(redisUrl) : undefined;
    if (url === undefined || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '')
      problem('redisUrl', 'must be a redis://host[:port][/db] or rediss:// URL');
    else if (!/^\/?\d*$/.test(url.pathname)) problem('redisUrl', 'the path must be a database number (/0)');
    else if (!isPercentEncoded(url.username) || !isPercentEncoded(url.password))
      problem('redisUrl', 'the user and password must be percent-encoded');
    else if (redisTlsCa !== undefined && url.protocol !== 'rediss:')
      problem('redisTlsCa', 'needs a rediss:// redisUrl');
  }
  if (redisUrlPassword !== undefined && typeof redisUrlPassword !== 'string')
    problem('redisUrlPassword', 'must be a string');
  if (redisTlsCa !== undefined && (typeof redisTlsCa !== 'string' || redisTlsCa === ''))
    problem('redisTlsCa', 'must be the path of a PEM file');
  for (const field of ['redisUrlPassword', 'redisTlsCa'])
    if (entry[field] !== undefined && redisUrl === undefined) problem('', `"${field}" needs "redisUrl"`);
}

function isPercentEncoded(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** Thrown when the tokens (a tokens file, or the token variables) are unusable; lists every problem. */
export class TokensFileError extends Error {
  readonly code = 'CG_ERR_TOKENS_INVALID';
  constructor(source: string, problems: string[]) {
    super(`Invalid tokens in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'TokensFileError';
  }
}

/**
 * Resolves presented tokens to principals. Tokens are hashed on arrival and matched by SHA-256 digest, so
 * the time a lookup takes depends on the digest, never on how many leading characters of a real token an
 * attacker guessed; the final comparison is constant-time as well. See docs/decisions/0003-token-digests.md.
 */
export class TokenStore {
  #byDigest: Map<string, TokenEntry>;

  private constructor(entries: TokenEntry[]) {
    this.#byDigest = new Map(entries.map((entry) => [entry.digest, entry]));
  }

  /**
   * Builds the store from the single-token variables and, when given, a tokens file.
   * @throws {TokensFileError} when the file is unreadable or invalid.
   */
  static load(single: SingleTokens, tokensFile?: string): TokenStore {
    const entries: TokenEntry[] = [];
    const add = (name: string, token: string | undefined, scope: Scope) => {
      if (token !== undefined) entries.push({ digest: sha256(token), principal: { name, scope } });
    };
    add('default', single.token, 'write');
    add('readonly', single.readonlyToken, 'read');
    add('admin', single.adminToken, 'admin');
    if (tokensFile !== undefined) entries.push(...readTokensFile(tokensFile));
    const seen = new Map<string, string>();
    for (const { digest, principal } of entries) {
      const other = seen.get(digest);
      if (other !== undefined) {
        throw new TokensFileError(tokensFile ?? 'the token variables', [
          `one token is configured twice, for "${other}" and "${principal.name}": give each its own token`,
        ]);
      }
      seen.set(digest, principal.name);
    }
    return new TokenStore(entries);
  }

  /** Number of configured tokens. */
  get size(): number {
    return this.#byDigest.size;
  }

  /** Every configured principal. */
  principals(): Principal[] {
    return [...this.#byDigest.values()].map((entry) => entry.principal);
  }

  /**
   * Swaps in the tokens of `next` (used on SIGHUP); requests already authenticated are unaffected. A token
   * whose entry did not change keeps its principal, so {@link isCurrent} tells revoked and changed tokens
   * (whose open streams must end) from the rest.
   */
  replaceWith(next: TokenStore): void {
    const previous = this.#byDigest;
    this.#byDigest = new Map(
      [...next.#byDigest].map(([digest, entry]) => {
        const known = previous.get(digest);
        return [
          digest,
          known !== undefined && isSamePrincipal(known.principal, entry.principal) ? known : entry,
        ];
      }),
    );
  }

  /** Whether `principal` is still what one of the configured tokens resolves to. */
  isCurrent(principal: Principal): boolean {
    for (const entry of this.#byDigest.values()) if (entry.principal === principal) return true;
    return false;
  }

  /** The principal for a presented token, or undefined when it matches none. */
  authenticate(presented: string): Principal | undefined {
    // Looked up by digest: the time this takes depends on the presented token's digest, which tells an
    // attacker nothing about any configured token (docs/decisions/0003-token-digests.md).
    return this.#byDigest.get(sha256(presented))?.principal;
  }
}

function readTokensFile(path: string): TokenEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new TokensFileError(path, [(error as Error).message]);
  }
  if (!Array.isArray(parsed)) throw new TokensFileError(path, ['(root): must be a JSON array of tokens']);
  const problems: string[] = [];
  const checked = parsed.map((raw, index) => checkEntry(raw, index, problems));
  if (problems.length > 0) throw new TokensFileError(path, problems);
  const fileEntries = checked as FileEntry[];
  const databases = resolveDatabases(fileEntries, problems);
  const names = new Set<string>();
  const entries = fileEntries.map((entry, index): TokenEntry => {
    const database = databases[index];
    if (names.has(entry.name)) problems.push(`${index}.name: "${entry.name}" is used twice`);
    names.add(entry.name);
    const digest =
      entry.token !== undefined
        ? sha256(entry.token)
        : Buffer.from(entry.sha256 ?? '', 'hex').toString('base64');
    const redisUser =
      entry.redisUser === undefined
        ? undefined
        : { username: entry.redisUser, password: entry.redisPassword ?? '' };
    const principal: Principal = {
      name: entry.name,
      scope: entry.scope,
      ...(redisUser ? { redisUser } : {}),
      ...(entry.rateLimit !== undefined ? { rateLimit: entry.rateLimit } : {}),
      ...(database !== undefined ? { database } : {}),
    };
    return { digest, principal };
  });
  if (problems.length > 0) throw new TokensFileError(path, problems);
  return entries;
}

/**
 * The database of each entry (undefined: the main Redis). One Redis, however many entries give it, is one
 * database: entries with equal connection settings share it, under the `database` they give (all that give
 * one must agree) or else the first such entry's name. A name means one set of settings; an entry with
 * `database` and no `redisUrl` uses the database another entry defines. Reports problems per entry.
 */
function resolveDatabases(entries: FileEntry[], problems: string[]): (DatabaseSettings | undefined)[] {
  const keys = entries.map((entry) => (entry.redisUrl === undefined ? undefined : connectionKey(entry)));
  const nameOfKey = new Map<string, { name: string; index: number; isExplicit: boolean }>();
  keys.forEach((key, index) => {
    const entry = entries[index] as FileEntry;
    if (key === undefined) return;
    const known = nameOfKey.get(key);
    if (entry.database === undefined) {
      if (known === undefined) nameOfKey.set(key, { name: entry.name, index, isExplicit: false });
    } else if (known === undefined || !known.isExplicit) {
      nameOfKey.set(key, { name: entry.database, index, isExplicit: true });
    } else if (known.name !== entry.database) {
      problems.push(
        `${index}.database: entry ${known.index} gives the same Redis the name "${known.name}": one Redis is one database, give both the same name`,
      );
    }
  });
  const byName = new Map<string, { key: string; index: number }>();
  for (const [key, { name, index }] of nameOfKey) {
    const other = byName.get(name);
    if (other !== undefined) {
      problems.push(
        `${index}.database: "${name}" is also the database of entry ${other.index}, with other connection settings (redisUrl, redisUrlPassword, redisTlsCa)`,
      );
    } else byName.set(name, { key, index });
  }
  const settings = new Map<string, DatabaseSettings>();
  // Built once per Redis, from the first entry that gives it.
  const define = (key: string): DatabaseSettings => {
    const known = settings.get(key);
    if (known !== undefined) return known;
    const index = keys.indexOf(key);
    const entry = entries[index] as FileEntry;
    const name = nameOfKey.get(key)?.name ?? entry.name;
    let tlsCa: Buffer | undefined;
    if (entry.redisTlsCa !== undefined) {
      try {
        tlsCa = readFileSync(entry.redisTlsCa);
      } catch (error) {
        problems.push(`${index}.redisTlsCa: ${(error as Error).message}`);
      }
    }
    const database: DatabaseSettings = {
      name,
      url: entry.redisUrl ?? '',
      password: entry.redisUrlPassword,
      tlsCa,
      key,
      toJSON: () => ({ name }),
    };
    settings.set(key, database);
    return database;
  };
  return entries.map((entry, index) => {
    const key = keys[index];
    if (key !== undefined) return define(key);
    if (entry.database === undefined || entry.database === DEFAULT_DATABASE) return undefined;
    const defined = byName.get(entry.database);
    if (defined === undefined)
      problems.push(`${index}.database: no entry gives "${entry.database}" a redisUrl`);
    return defined === undefined ? undefined : define(defined.key);
  });
}

/** Equal for entries that connect the same way: normalized URL, password and CA file, as a digest. */
function connectionKey(entry: FileEntry): string {
  const url = new URL(entry.redisUrl ?? '');
  const parts = [
    url.protocol,
    decodeURIComponent(url.username),
    decodeURIComponent(url.password),
    url.hostname.toLowerCase(),
    url.port || '6379',
    Number(url.pathname.slice(1) || 0),
    entry.redisUrlPassword ?? null,
    entry.redisTlsCa ?? null,
  ];
  return sha256(JSON.stringify(parts));
}

/** Equal when a token grants the same: name, scope, Redis user, database and rate limit. */
function isSamePrincipal(a: Principal, b: Principal): boolean {
  const limit = (rule: Principal['rateLimit']) => (typeof rule === 'object' ? rule.text : rule);
  return (
    a.name === b.name &&
    a.scope === b.scope &&
    a.redisUser?.username === b.redisUser?.username &&
    a.redisUser?.password === b.redisUser?.password &&
    a.database?.key === b.database?.key &&
    limit(a.rateLimit) === limit(b.rateLimit)
  );
}

function sha256(text: string): string {
  return hash('sha256', text, 'base64');
}
