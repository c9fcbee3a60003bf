import {
  Cachegate,
  CachegateConfigError,
  CachegateError,
  isReadOnly,
  isSafeToRepeat,
} from '@cachegate/client';
import { createHybridClient } from '@cachegate/client/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectionOf, type Stack, startStack, TOKENS } from './helpers/stack.js';

const TOKEN = 'a-token-0123456789';

function configError(build: () => unknown): CachegateError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(CachegateConfigError);
    return error as CachegateError;
  }
  throw new Error('expected a configuration error');
}

describe('Cachegate.fromEnv', () => {
  it('reads CACHEGATE_URL and CACHEGATE_TOKEN and drops trailing slashes', () => {
    const cache = Cachegate.fromEnv(
      {},
      { CACHEGATE_URL: 'https://cache.example.com/', CACHEGATE_TOKEN: TOKEN },
    );
    expect(cache.url).toBe('https://cache.example.com');
  });

  it("accepts the seed's REDIS_SERVICE_URL and REDIS_SERVICE_API_KEY, ours winning when both are set", () => {
    const seed = Cachegate.fromEnv(
      {},
      { REDIS_SERVICE_URL: 'http://10.0.0.1:8081', REDIS_SERVICE_API_KEY: TOKEN },
    );
    expect(seed.url).toBe('http://10.0.0.1:8081');
    const both = Cachegate.fromEnv(
      {},
      { CACHEGATE_URL: 'http://ours:1', REDIS_SERVICE_URL: 'http://seed:2', REDIS_SERVICE_API_KEY: TOKEN },
    );
    expect(both.url).toBe('http://ours:1');
  });

  it('names the missing variables', () => {
    const error = configError(() => Cachegate.fromEnv({}, {}));
    expect(error.code).toBe('CG_ERR_CONFIG_INVALID');
    expect(error.message).toContain(
      'CACHEGATE_URL (or REDIS_SERVICE_URL, UPSTASH_REDIS_REST_URL, KV_REST_API_URL)',
    );
    const noToken = configError(() => Cachegate.fromEnv({}, { CACHEGATE_URL: 'http://x' }));
    expect(noToken.message).toContain('CACHEGATE_TOKEN (or REDIS_SERVICE_API_KEY)');
  });

  // Issue 13, item 6: an application moved from Upstash or Vercel KV keeps its environment.
  it('falls back to UPSTASH_REDIS_REST_URL/_TOKEN, then KV_REST_API_URL/_TOKEN', () => {
    const upstash = { UPSTASH_REDIS_REST_URL: 'https://upstash.example:1', UPSTASH_REDIS_REST_TOKEN: TOKEN };
    const kv = { KV_REST_API_URL: 'https://kv.example:2', KV_REST_API_TOKEN: TOKEN };
    expect(Cachegate.fromEnv({}, upstash).url).toBe('https://upstash.example:1');
    expect(Cachegate.fromEnv({}, kv).url).toBe('https://kv.example:2');
    expect(Cachegate.fromEnv({}, { ...kv, ...upstash }).url).toBe('https://upstash.example:1');
    // Ours, and the seed's, keep precedence.
    expect(
      Cachegate.fromEnv({}, { ...upstash, CACHEGATE_URL: 'http://ours:3', CACHEGATE_TOKEN: TOKEN }).url,
    ).toBe('http://ours:3');
    expect(
      Cachegate.fromEnv({}, { ...upstash, REDIS_SERVICE_URL: 'http://seed:4', REDIS_SERVICE_API_KEY: TOKEN })
        .url,
    ).toBe('http://seed:4');
  });

  describe('against a gateway', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack();
    });
    afterAll(() => stack?.stop());

    it("reads each fallback URL with its own token, never with another service's", async () => {
      const url = stack.gateway.url;
      const wrong = 'not-the-token-0123456789';
      const upstash = Cachegate.fromEnv(
        {},
        {
          UPSTASH_REDIS_REST_URL: url,
          UPSTASH_REDIS_REST_TOKEN: TOKENS.write,
          KV_REST_API_TOKEN: wrong,
          CACHEGATE_TOKEN: wrong,
        },
      );
      await upstash.set('k', 'via upstash variables');
      expect(await upstash.get('k')).toBe('via upstash variables');
      // Vercel KV's pair with a read-only token: reads pass, writes are refused, so that token was sent.
      const kv = Cachegate.fromEnv({}, { KV_REST_API_URL: url, KV_REST_API_TOKEN: TOKENS.read });
      expect(await kv.get('k')).toBe('via upstash variables');
      expect((await rejectionOf(kv.set('k', 'no'))).message).toMatch(/read/i);
      // A URL without its token is an error naming that token, not a reason to borrow another.
      const noToken = configError(() =>
        Cachegate.fromEnv({}, { KV_REST_API_URL: url, UPSTASH_REDIS_REST_TOKEN: TOKENS.write }),
      );
      expect(noToken.message).toContain('KV_REST_API_TOKEN is not set');
      const oursWithoutToken = configError(() =>
        Cachegate.fromEnv({}, { CACHEGATE_URL: url, UPSTASH_REDIS_REST_TOKEN: TOKENS.write }),
      );
      expect(oursWithoutToken.message).toContain('CACHEGATE_TOKEN (or REDIS_SERVICE_API_KEY) is not set');
    });
  });

  it('reads process.env by default', () => {
    process.env.CACHEGATE_URL = 'http://from-process-env:9';
    process.env.CACHEGATE_TOKEN = TOKEN;
    try {
      expect(Cachegate.fromEnv().url).toBe('http://from-process-env:9');
    } finally {
      delete process.env.CACHEGATE_URL;
      delete process.env.CACHEGATE_TOKEN;
    }
  });
});

describe('option validation fails at construction with CG_ERR_CONFIG_INVALID', () => {
  it.each([
    ['a URL without a scheme', { url: 'cache.example.com', token: TOKEN }],
    ['a non-HTTP URL', { url: 'redis://localhost:6379', token: TOKEN }],
    ['an empty token', { url: 'http://x', token: '' }],
    ['a token with spaces', { url: 'http://x', token: 'two words' }],
    ['a zero timeout', { url: 'http://x', token: TOKEN, timeoutMs: 0 }],
    ['a fractional batch size', { url: 'http://x', token: TOKEN, maxBatchSize: 1.5 }],
  ])('%s', (_label, options) => {
    expect(configError(() => new Cachegate(options)).code).toBe('CG_ERR_CONFIG_INVALID');
  });

  it('the hybrid client needs a redis:// URL', () => {
    const error = configError(() => createHybridClient({ url: 'http://x', token: TOKEN, env: {} }));
    expect(error.message).toContain('CACHEGATE_REDIS_URL / REDIS_URL');
    const fromEnv = createHybridClient({
      env: { REDIS_SERVICE_URL: 'http://x', REDIS_SERVICE_API_KEY: TOKEN, REDIS_URL: 'redis://localhost:1' },
    });
    expect(fromEnv.activeTransport).toBe('http');
  });
});

describe('errors', () => {
  it('every error is a CachegateError with a stable code, an Error and a name', () => {
    const error = new CachegateConfigError('x');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(CachegateError);
    expect(error.name).toBe('CachegateConfigError');
    expect(error.code).toBe('CG_ERR_CONFIG_INVALID');
  });
});

describe('which commands may be sent twice', () => {
  it.each([
    [['GET', 'k'], true],
    [['get', 'k'], true],
    [['SET', 'k', 'v'], true],
    [['SET', 'k', 'v', 'EX', '10'], true],
    [['SET', 'k', 'v', 'NX'], false],
    [['SET', 'k', 'v', 'get'], false],
    [['DEL', 'k'], true],
    [['EXPIRE', 'k', '10'], true],
    [['EXPIRE', 'k', '10', 'GT'], false],
    [['INCR', 'k'], false],
    [['LPUSH', 'l', 'x'], false],
    [['EVAL', 'return 1', '0'], false],
    [['SOMETHING-NEW'], false],
  ])('%j -> %s', (command, safe) => {
    expect(isSafeToRepeat(command)).toBe(safe);
  });

  it('read-only commands are a subset of the safe ones', () => {
    expect(isReadOnly(['MGET', 'a'])).toBe(true);
    expect(isReadOnly(['SET', 'a', 'b'])).toBe(false);
  });
});
