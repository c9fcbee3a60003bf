import { CachegateConfigError } from './errors.js';

/** Environment variables as a plain record (`process.env` on Node, a bindings object on edge runtimes). */
export type EnvSource = Record<string, string | undefined>;

/** Environment variable names the SDK reads, first match wins: ours, then the seed's aliases. */
export const ENV = {
  url: ['CACHEGATE_URL', 'REDIS_SERVICE_URL'],
  token: ['CACHEGATE_TOKEN', 'REDIS_SERVICE_API_KEY'],
  redisUrl: ['CACHEGATE_REDIS_URL', 'REDIS_URL'],
  redisPassword: ['CACHEGATE_REDIS_PASSWORD', 'REDIS_PASSWORD'],
  /**
   * When no URL of ours is set: the variables of `@upstash/redis` (`Redis.fromEnv()`), then Vercel KV's, so
   * that an application moved to cachegate keeps its environment. Each URL is read with its own token.
   */
  fallbacks: [
    { url: 'UPSTASH_REDIS_REST_URL', token: 'UPSTASH_REDIS_REST_TOKEN' },
    { url: 'KV_REST_API_URL', token: 'KV_REST_API_TOKEN' },
  ],
} as const;

/**
 * `process.env` when the runtime has one, else an empty record. Read through globalThis so the isomorphic
 * entry names no Node global: bundlers for browsers and edge runtimes then have nothing to polyfill.
 */
export function processEnv(): EnvSource {
  return (globalThis as { process?: { env?: EnvSource } }).process?.env ?? {};
}

/** The first non-empty value among `names`. */
export function readEnv(env: EnvSource, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

/** Checks the gateway URL and drops trailing slashes; `source` names where it came from, for the message. */
export function checkUrl(url: unknown, source: string): string {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new CachegateConfigError(
      `${source} is not set: give the gateway's URL, e.g. https://cache.example.com`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch (cause) {
    throw new CachegateConfigError(`${source} is not a URL: ${JSON.stringify(url)}`, { cause });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CachegateConfigError(
      `${source} must start with http:// or https://, got ${JSON.stringify(url)}`,
    );
  }
  return parsed.href.replace(/\/+$/, '');
}

/** Checks the token: a non-empty string without whitespace (it travels in an HTTP header). */
export function checkToken(token: unknown, source: string): string {
  if (typeof token !== 'string' || token.trim() === '') {
    throw new CachegateConfigError(
      `${source} is not set: give the gateway token (Authorization: Bearer <token>)`,
    );
  }
  if (/\s/.test(token.trim())) throw new CachegateConfigError(`${source} must not contain whitespace`);
  return token.trim();
}

/** Checks a positive whole number of milliseconds or items. */
export function checkPositive(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new CachegateConfigError(`${name} must be a positive whole number, got ${value}`);
  }
  return value;
}
