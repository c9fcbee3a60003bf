import { Cachegate } from '@cachegate/client';
import { describe, expect, it } from 'vitest';
import type { TestProxy } from './helpers/proxy.js';
import { type Stack, TOKENS, useProxiedStack } from './helpers/stack.js';

let stack: Stack;
let proxy: TestProxy;
useProxiedStack((s, p) => {
  stack = s;
  proxy = p;
});

const client = (options: Partial<ConstructorParameters<typeof Cachegate>[0]> = {}) =>
  new Cachegate({ url: proxy.url, token: TOKENS.write, ...options });

describe('tick batching', () => {
  it('sends calls issued in the same tick as one /pipeline request and routes each result back', async () => {
    const cache = client();
    await stack.redis.command('SET', 'pre', '"existing"');
    const results = await Promise.all([
      cache.set('a', { n: 1 }),
      cache.get('pre'),
      cache.incr('counter'),
      cache.mget(['pre', 'nope']),
      cache.exists(['pre', 'a']),
      cache.command(['PING']),
    ]);
    expect(results).toEqual([true, 'existing', 1, ['existing', null], 2, 'PONG']);
    expect(proxy.requests.map((request) => request.path)).toEqual(['/pipeline']);
    expect(JSON.parse(proxy.requests[0]?.body ?? '[]')).toHaveLength(6);
  });

  it('sends sequential awaits as separate single-command requests to /', async () => {
    const cache = client();
    await cache.set('a', 1);
    await cache.get('a');
    expect(proxy.requests.map((request) => request.path)).toEqual(['/', '/']);
  });

  it('splits a batch larger than maxBatchSize', async () => {
    const cache = client({ maxBatchSize: 10 });
    const values = await Promise.all(Array.from({ length: 25 }, (_, i) => cache.set(`k${i}`, i)));
    expect(values.every(Boolean)).toBe(true);
    expect(proxy.requests.map((request) => JSON.parse(request.body).length)).toEqual([10, 10, 5]);
    expect(await cache.mget(['k0', 'k24'])).toEqual([0, 24]);
  });

  it('keeps calls with different timeouts in separate batches', async () => {
    const cache = client();
    await Promise.all([cache.get('a'), cache.get('b'), cache.get('c', { timeoutMs: 1234 })]);
    expect(proxy.requests.map((request) => request.path).sort()).toEqual(['/', '/pipeline']);
  });

  it('rejects only the failing call of a batch', async () => {
    const cache = client();
    await stack.redis.command('LPUSH', 'list', 'x');
    const [good, wrongType, alsoGood] = await Promise.allSettled([
      cache.set('s', 'v'),
      cache.get('list'),
      cache.incr('i'),
    ]);
    expect(good).toEqual({ status: 'fulfilled', value: true });
    expect(alsoGood).toEqual({ status: 'fulfilled', value: 1 });
    expect(wrongType.status).toBe('rejected');
    expect((wrongType as PromiseRejectedResult).reason.code).toBe('CG_ERR_REDIS_ERROR');
    expect((wrongType as PromiseRejectedResult).reason.message).toMatch(/WRONGTYPE/);
    expect(proxy.requests).toHaveLength(1);
  });

  it('a caller that aborts leaves the batch; the others still get their results', async () => {
    const cache = client();
    const controller = new AbortController();
    const aborted = cache.get('x', { signal: controller.signal });
    const kept = cache.set('y', 'kept');
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'CG_ERR_ABORTED' });
    expect(await kept).toBe(true);
    expect(await stack.redis.command('GET', 'y')).toBe('"kept"');
  });
});
