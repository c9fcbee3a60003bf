import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseRateLimit } from '../rate-limit-rule.js';
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

const scopeSchema = z.enum(['read', 'write', 'admin']);

const fileEntrySchema = z
  .object({
    name: z.string().min(1).max(64),
    token: z.string().min(16, 'must be at least 16 characters').optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/i, 'must be 64 hex digits')
      .optional(),
    scope: scopeSchema,
    redisUser: z.string().min(1).optional(),
    redisPassword: z.string().optional(),
    rateLimit: z
      .string()
      .transform((text, context) => {
        if (text === 'off') return 'off' as const;
        const rule = parseRateLimit(text);
        if (typeof rule !== 'string') return rule;
        context.addIssue({ code: 'custom', message: `must be "off" or ${rule.replace('must ', '')}` });
        return z.NEVER;
      })
      .optional(),
  })
  .strict()
  .refine((entry) => (entry.token === undefined) !== (entry.sha256 === undefined), {
    message: 'give exactly one of "token" and "sha256"',
  })
  .refine((entry) => entry.redisPassword === undefined || entry.redisUser !== undefined, {
    message: '"redisPassword" needs "redisUser"',
  });

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
  const result = z.array(fileEntrySchema).safeParse(parsed);
  if (!result.success) {
    throw new TokensFileError(
      path,
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  const names = new Set<string>();
  const problems: string[] = [];
  const entries = result.data.map((entry, index): TokenEntry => {
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
