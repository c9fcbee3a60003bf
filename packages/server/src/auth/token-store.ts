import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseRateLimit, type RateLimitRule } from '../rate-limit-rule.js';
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
}

const FIELDS = ['name', 'token', 'sha256', 'scope', 'redisUser', 'redisPassword', 'rateLimit'];
const SCOPES: readonly string[] = ['read', 'write', 'admin'];

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

  /** Swaps in the tokens of `next` (used on SIGHUP); requests already authenticated are unaffected. */
  replaceWith(next: TokenStore): void {
    this.#byDigest = next.#byDigest;
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
  const names = new Set<string>();
  const entries = (checked as FileEntry[]).map((entry, index): TokenEntry => {
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
    };
    return { digest, principal };
  });
  if (problems.length > 0) throw new TokensFileError(path, problems);
  return entries;
}

function sha256(text: string): string {
  return hash('sha256', text, 'base64');
}
