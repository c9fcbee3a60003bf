import { Cachegate } from '@cachegate/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deadUrl, rejectionOf, type Stack, startStack, TOKENS } from './helpers/stack.js';

let stack: Stack;
let cache: Cachegate;

beforeAll(async () => {
  stack = await startStack();
  cache = new Cachegate({ url: stack.gateway.url, token: TOKENS.write });
});
afterAll(() => stack?.stop());
beforeEach(() => stack.flush());

describe('typed operations over HTTP', () => {
  it('set stores JSON text and get decodes it', async () => {
    expect(await cache.set('user', { name: 'Ada', tags: ['x'] })).toBe(true);
    expect(await cache.get('user')).toEqual({ name: 'Ada', tags: ['x'] });
    expect(await stack.redis.command('GET', 'user')).toBe('{"name":"Ada","tags":["x"]}');
  });

  it('keeps a string that looks like a number a string', async () => {
    await cache.set('n', '42');
    await cache.set('m', 42);
    expect(await cache.get('n')).toBe('42');
    expect(await cache.get('m')).toBe(42);
    expect(await stack.redis.command('GET', 'n')).toBe('"42"');
  });

  it('get resolves null for a missing key', async () => {
    expect(await cache.get('missing')).toBeNull();
  });

  it('set with ttl, nx and xx', async () => {
    expect(await cache.set('k', 1, { ttl: 100 })).toBe(true);
    const ttl = await cache.ttl('k');
    expect(ttl).toBeGreaterThan(98);
    expect(ttl).toBeLessThanOrEqual(100);
    expect(await cache.set('k', 2, { nx: true })).toBe(false);
    expect(await cache.get('k')).toBe(1);
    expect(await cache.set('other', 2, { xx: true })).toBe(false);
    expect(await cache.exists('other')).toBe(0);
    expect(await cache.set('k', 3, { xx: true })).toBe(true);
    expect(await cache.get('k')).toBe(3);
  });

  it('set with a fractional ttl uses milliseconds', async () => {
    await cache.set('short', 'x', { ttl: 1.5 });
    const pttl = Number(await stack.redis.command('PTTL', 'short'));
    expect(pttl).toBeGreaterThan(1000);
    expect(pttl).toBeLessThanOrEqual(1500);
  });

  it('rejects invalid arguments before sending anything', async () => {
    expect((await rejectionOf(cache.set('k', 1, { nx: true, xx: true }))).code).toBe(
      'CG_ERR_ARGUMENT_INVALID',
    );
    expect((await rejectionOf(cache.set('k', 1, { ttl: -1 }))).code).toBe('CG_ERR_ARGUMENT_INVALID');
    expect((await rejectionOf(cache.set('k', undefined))).name).toBe('TypeError');
    expect((await rejectionOf(cache.mget([]))).code).toBe('CG_ERR_ARGUMENT_INVALID');
  });

  it('del, exists, mget, mset, incr, expire, ttl', async () => {
    await cache.mset({ a: { v: 1 }, b: 'two', c: null });
    expect(await cache.mget(['a', 'b', 'c', 'nope'])).toEqual([{ v: 1 }, 'two', null, null]);
    expect(await cache.exists(['a', 'b', 'nope'])).toBe(2);
    expect(await cache.del(['a', 'b', 'nope'])).toBe(2);
    expect(await cache.exists('a')).toBe(0);
    expect(await cache.incr('counter')).toBe(1);
    expect(await cache.incr('counter')).toBe(2);
    expect(await cache.get('counter')).toBe(2);
    expect(await cache.ttl('counter')).toBe(-1);
    expect(await cache.expire('counter', 50)).toBe(true);
    expect(await cache.ttl('counter')).toBeGreaterThan(48);
    expect(await cache.expire('nope', 50)).toBe(false);
    expect(await cache.ttl('nope')).toBe(-2);
  });

  it('command returns raw RESP2-shaped replies', async () => {
    expect(await cache.command(['HSET', 'h', 'f1', 'v1', 'f2', 2])).toBe(2);
    expect(await cache.command(['HGETALL', 'h'])).toEqual(['f1', 'v1', 'f2', '2']);
    expect(await cache.command(['PING'])).toBe('PONG');
    expect(await cache.command(['LPUSH', 'l', 'ü', '😀'])).toBe(2);
    expect(await cache.command(['LRANGE', 'l', 0, -1])).toEqual(['😀', 'ü']);
  });

  it('reads bytes that are not valid UTF-8 the way node-redis does (U+FFFD)', async () => {
    await stack.redis.command('EVAL', "return redis.call('SET', KEYS[1], '\\255\\254ok')", '1', 'bin');
    expect(await cache.command(['GET', 'bin'])).toBe('\uFFFD\uFFFDok');
    expect(await cache.command(['STRLEN', 'bin'])).toBe(4);
  });
});

describe('pipeline and multi', () => {
  it('pipeline returns typed results in order', async () => {
    const results = await cache
      .pipeline()
      .set('p', { a: 1 })
      .get<{ a: number }>('p')
      .incr('pc')
      .exists('p')
      .exec();
    expect(results).toEqual([true, { a: 1 }, 1, 1]);
  });

  it('multi runs atomically through /multi-exec', async () => {
    const [count, value] = await cache.multi().incr('mc').get('mc').exec();
    expect(count).toBe(1);
    expect(value).toBe(1);
  });

  it('a failing command rejects exec with that command error', async () => {
    await cache.set('str', 'text');
    const error = await rejectionOf(cache.pipeline().get('str').incr('str').exec());
    expect(error.code).toBe('CG_ERR_REDIS_ERROR');
    expect(error.message).toMatch(/not an integer/);
  });

  it('an empty pipeline resolves to an empty array without a request', async () => {
    expect(await cache.pipeline().exec()).toEqual([]);
  });
});

describe('errors', () => {
  it('a Redis error rejects only its own call in a batch', async () => {
    await cache.set('text', 'abc');
    const [ok, bad] = await Promise.allSettled([cache.get('text'), cache.incr('text')]);
    expect(ok).toEqual({ status: 'fulfilled', value: 'abc' });
    expect(bad.status === 'rejected' && (bad.reason as { code: string }).code).toBe('CG_ERR_REDIS_ERROR');
  });

  it('a wrong token is CG_ERR_AUTH_INVALID with status 401', async () => {
    const wrong = new Cachegate({ url: stack.gateway.url, token: 'not-a-valid-token-at-all' });
    const error = (await rejectionOf(wrong.get('k'))) as Error & { code: string; status: number };
    expect(error.code).toBe('CG_ERR_AUTH_INVALID');
    expect(error.status).toBe(401);
  });

  it('a read-only token writing is CG_ERR_COMMAND_DENIED, and its reads in the same tick still succeed', async () => {
    await cache.set('shared', 'value');
    const reader = new Cachegate({ url: stack.gateway.url, token: TOKENS.read });
    const [read, write, read2] = await Promise.allSettled([
      reader.get('shared'),
      reader.set('shared', 'changed'),
      reader.exists('shared'),
    ]);
    expect(read).toEqual({ status: 'fulfilled', value: 'value' });
    expect(read2).toEqual({ status: 'fulfilled', value: 1 });
    expect(write.status === 'rejected' && (write.reason as { code: string }).code).toBe(
      'CG_ERR_COMMAND_DENIED',
    );
    expect(await cache.get('shared')).toBe('value');
  });
});

describe('isServiceAvailable', () => {
  it('is true when the gateway and Redis are up', async () => {
    expect(await cache.isServiceAvailable()).toBe(true);
  });

  it('is false, without throwing, when nothing listens', async () => {
    const nowhere = new Cachegate({ url: await deadUrl(), token: TOKENS.write });
    expect(await nowhere.isServiceAvailable()).toBe(false);
  });

  it('is false when the gateway refuses the token: the next call would fail with CG_ERR_AUTH_INVALID', async () => {
    const wrong = new Cachegate({ url: stack.gateway.url, token: 'not-a-token-the-gateway-knows' });
    expect(await wrong.isServiceAvailable()).toBe(false);
    expect((await rejectionOf(wrong.get('k'))).code).toBe('CG_ERR_AUTH_INVALID');
  });

  it('checks with one authenticated PING, which any scope may send', async () => {
    const sent: { path: string; method: string; authorization: string | null; body: unknown }[] = [];
    const reader = new Cachegate({
      url: stack.gateway.url,
      token: TOKENS.read,
      fetch: (input, init) => {
        sent.push({
          path: new URL(String(input)).pathname,
          method: init?.method ?? 'GET',
          authorization: new Headers(init?.headers).get('authorization'),
          body: init?.body,
        });
        return fetch(input, init);
      },
    });
    expect(await reader.isServiceAvailable()).toBe(true);
    expect(sent).toEqual([
      { path: '/', method: 'POST', authorization: `Bearer ${TOKENS.read}`, body: '["PING"]' },
    ]);
  });
});
