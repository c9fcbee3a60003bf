import { Cachegate } from '@cachegate/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deadUrl, delay, rejectionOf, type Stack, startStack, TOKENS } from './helpers/stack.js';

let stack: Stack;
let cache: Cachegate;

beforeAll(async () => {
  stack = await startStack();
  cache = new Cachegate({ url: stack.gateway.url, token: TOKENS.write });
});
afterAll(() => stack?.stop());
beforeEach(() => stack.flush());

/** A loader that counts its calls and resolves after `ms` with the call number. */
function countingLoader(ms = 50) {
  const loader = async () => {
    loader.calls += 1;
    const call = loader.calls;
    await delay(ms);
    return { version: call };
  };
  loader.calls = 0;
  return loader;
}

describe('getOrSet', () => {
  it('loads on a miss, stores the value with its ttl, then serves it from the cache', async () => {
    const loader = countingLoader();
    expect(await cache.getOrSet('k', loader, { ttl: 60 })).toEqual({ version: 1 });
    expect(await cache.getOrSet('k', loader, { ttl: 60 })).toEqual({ version: 1 });
    expect(loader.calls).toBe(1);
    expect(await stack.redis.command('GET', 'k')).toBe('{"version":1}');
    expect(Number(await stack.redis.command('TTL', 'k'))).toBeGreaterThan(58);
  });

  it('single flight: 50 concurrent misses for one key run the loader once', async () => {
    const loader = countingLoader(100);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => cache.getOrSet('hot', loader, { ttl: 60 })),
    );
    expect(loader.calls).toBe(1);
    expect(new Set(results.map((result) => JSON.stringify(result)))).toEqual(new Set(['{"version":1}']));
  });

  it('single flight is per key: different keys load independently', async () => {
    const loader = countingLoader();
    await Promise.all([cache.getOrSet('a', loader, { ttl: 60 }), cache.getOrSet('b', loader, { ttl: 60 })]);
    expect(loader.calls).toBe(2);
  });

  it("a loader's error reaches every waiter and nothing is cached; the next call loads again", async () => {
    let calls = 0;
    const failing = async () => {
      calls += 1;
      await delay(30);
      throw new Error('database down');
    };
    const outcomes = await Promise.allSettled([cache.getOrSet('f', failing), cache.getOrSet('f', failing)]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect(await stack.redis.command('EXISTS', 'f')).toBe(0);
    expect(await cache.getOrSet('f', () => 'recovered', { ttl: 60 })).toBe('recovered');
  });

  it('caches null as a value, distinct from a miss', async () => {
    let calls = 0;
    const loader = () => {
      calls += 1;
      return null;
    };
    expect(await cache.getOrSet('nothing', loader, { ttl: 60 })).toBeNull();
    expect(await cache.getOrSet('nothing', loader, { ttl: 60 })).toBeNull();
    expect(calls).toBe(1);
  });

  it('without staleWhileRevalidate, an expired value is loaded again (callers wait)', async () => {
    const loader = countingLoader(10);
    await cache.getOrSet('short', loader, { ttl: 0.2 });
    await delay(300);
    expect(await cache.getOrSet('short', loader, { ttl: 0.2 })).toEqual({ version: 2 });
  });

  it('stale-while-revalidate serves the stale value at once while exactly one refresh runs', async () => {
    const loader = countingLoader(200);
    expect(await cache.getOrSet('swr', loader, { ttl: 0.3, staleWhileRevalidate: 10 })).toEqual({
      version: 1,
    });
    // Stored for ttl + staleWhileRevalidate, so Redis keeps it through the stale window.
    expect(Number(await stack.redis.command('PTTL', 'swr'))).toBeGreaterThan(10_000);

    await delay(400);
    const started = Date.now();
    const stale = await Promise.all(
      Array.from({ length: 20 }, () => cache.getOrSet('swr', loader, { ttl: 0.3, staleWhileRevalidate: 10 })),
    );
    expect(Date.now() - started).toBeLessThan(150);
    expect(stale.every((value) => (value as { version: number }).version === 1)).toBe(true);

    await delay(350);
    expect(loader.calls).toBe(2);
    expect(await cache.getOrSet('swr', loader, { ttl: 0.3, staleWhileRevalidate: 10 })).toEqual({
      version: 2,
    });
    expect(loader.calls).toBe(2);
  });

  it('a fresh value within the ttl is not refreshed', async () => {
    const loader = countingLoader(10);
    await cache.getOrSet('fresh', loader, { ttl: 30, staleWhileRevalidate: 30 });
    await cache.getOrSet('fresh', loader, { ttl: 30, staleWhileRevalidate: 30 });
    await delay(50);
    expect(loader.calls).toBe(1);
  });

  it('a failed background refresh keeps serving the stale value', async () => {
    await cache.getOrSet('keep', () => 'old', { ttl: 0.1, staleWhileRevalidate: 10 });
    await delay(200);
    let refreshes = 0;
    const broken = async () => {
      refreshes += 1;
      throw new Error('still down');
    };
    expect(await cache.getOrSet('keep', broken, { ttl: 0.1, staleWhileRevalidate: 10 })).toBe('old');
    await delay(50);
    expect(await cache.getOrSet('keep', broken, { ttl: 0.1, staleWhileRevalidate: 10 })).toBe('old');
    expect(refreshes).toBe(2);
  });

  it('when the cache is unreachable the loader still runs, once per key', async () => {
    const offline = new Cachegate({ url: await deadUrl(), token: TOKENS.write, retry: false });
    const loader = countingLoader(50);
    const results = await Promise.all([offline.getOrSet('x', loader), offline.getOrSet('x', loader)]);
    expect(results).toEqual([{ version: 1 }, { version: 1 }]);
    expect(loader.calls).toBe(1);
  });

  it('refuses staleWhileRevalidate without a ttl, and a loader returning undefined', async () => {
    expect((await rejectionOf(cache.getOrSet('k', () => 1, { staleWhileRevalidate: 5 }))).code).toBe(
      'CG_ERR_ARGUMENT_INVALID',
    );
    expect((await rejectionOf(cache.getOrSet('u', () => undefined))).code).toBe('CG_ERR_ARGUMENT_INVALID');
  });
});
