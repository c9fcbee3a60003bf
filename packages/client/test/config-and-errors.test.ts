import {
  Cachegate,
  CachegateConfigError,
  CachegateError,
  isReadOnly,
  isSafeToRepeat,
} from '@cachegate/client';
import { createHybridClient } from '@cachegate/client/node';
import { describe, expect, it } from 'vitest';

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
    expect(error.message).toContain('CACHEGATE_URL (or REDIS_SERVICE_URL)');
    const noToken = configError(() => Cachegate.fromEnv({}, { CACHEGATE_URL: 'http://x' }));
    expect(noToken.message).toContain('CACHEGATE_TOKEN (or REDIS_SERVICE_API_KEY)');
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
