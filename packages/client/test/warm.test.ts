import { Cachegate, type WarmProgress } from '@cachegate/client';
import { createHybridClient } from '@cachegate/client/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { deadUrl, delay, type Stack, startStack, TOKENS } from './helpers/stack.js';

let stack: Stack;
let proxy: TestProxy;
let cache: Cachegate;

beforeAll(async () => {
  stack = await startStack();
  // Every request goes through a recording proxy, so the tests can count them.
  proxy = await startProxy(stack.gateway.url);
  cache = new Cachegate({ url: proxy.url, token: TOKENS.write, retry: false });
});
afterAll(async () => {
  await proxy?.close();
  await stack?.stop();
});
beforeEach(async () => {
  await stack.flush();
  proxy.requests.length = 0;
});

describe('warm() from entries', () => {
  it('writes them in batches, as set() stores values, only where the cache holds nothing yet', async () => {
    await stack.redis.command('SET', 'e:0', '"fresher"');
    const entries = Array.from({ length: 250 }, (_, i) => ({
      key: `e:${i}`,
      value: { i },
      ...(i === 1 ? { ttl: 30 } : {}),
    }));
    const progress: WarmProgress[] = [];
    const summary = await cache.warm(
      { entries },
      { ttl: 600, batchSize: 100, onProgress: (p) => progress.push(p) },
    );
    expect(summary).toEqual({ loaded: 249, skipped: 1, failed: [], aborted: false });
    expect(proxy.requests.filter((r) => r.path === '/pipeline')).toHaveLength(3);
    expect(progress.map((p) => p.done)).toEqual([100, 200, 250]);
    expect(await stack.redis.command('GET', 'e:0')).toBe('"fresher"');
    expect(await cache.get('e:7')).toEqual({ i: 7 });
    await cache.set('reference', { i: 7 });
    expect(await stack.redis.command('GET', 'e:7')).toBe(await stack.redis.command('GET', 'reference'));
    expect(Number(await stack.redis.command('TTL', 'e:1'))).toBeLessThanOrEqual(30);
    expect(Number(await stack.redis.command('TTL', 'e:2'))).toBeGreaterThan(590);
  });

  it('replaces what exists with overwrite, and takes async iterables', async () => {
    await stack.redis.command('SET', 'a', '"old"');
    async function* entries() {
      yield { key: 'a', value: 'new' };
      yield { key: 'b', value: 'new' };
    }
    expect(await cache.warm({ entries: entries() }, { overwrite: true })).toMatchObject({
      loaded: 2,
      skipped: 0,
    });
    expect(await cache.mget(['a', 'b'])).toEqual(['new', 'new']);
  });

  it('fails only the entries it cannot store, with their reasons', async () => {
    const summary = await cache.warm({
      entries: [
        { key: 'ok', value: 1 },
        { key: 'bad-ttl', value: 1, ttl: -5 },
        { key: 'no-json', value: undefined },
      ],
    });
    expect(summary.loaded).toBe(1);
    expect(summary.failed.map((f) => f.key)).toEqual(['bad-ttl', 'no-json']);
    expect(summary.failed[0]?.reason).toContain('ttl must be a positive number');
  });
});

describe('warm() from keys and a loader', () => {
  it('loads only the missing keys; a loader failing for some keys fails those keys only', async () => {
    await stack.redis.command('SET', 'user:1', '"cached"');
    await stack.redis.command('SET', 'user:2', '"cached"');
    const asked: string[] = [];
    const summary = await cache.warm(
      {
        keys: Array.from({ length: 8 }, (_, i) => `user:${i + 1}`),
        load: async (key) => {
          asked.push(key);
          if (key === 'user:4') throw new Error('database timeout');
          if (key === 'user:6') return undefined;
          await delay(5);
          return { id: key };
        },
      },
      { ttl: 60 },
    );
    expect(asked.sort()).toEqual(['user:3', 'user:4', 'user:5', 'user:6', 'user:7', 'user:8']);
    expect(summary.loaded).toBe(4);
    expect(summary.skipped).toBe(2);
    expect(summary.failed.map(({ key, reason }) => ({ key, reason }))).toEqual([
      { key: 'user:4', reason: 'the loader failed: database timeout' },
      { key: 'user:6', reason: expect.stringContaining('returned undefined') },
    ]);
    expect((summary.failed[0] as { error: Error }).error.message).toBe('database timeout');
    // One request to check the batch, one to write it.
    expect(proxy.requests.map((r) => r.path)).toEqual(['/pipeline', '/pipeline']);
    expect(await stack.redis.command('EXISTS', 'user:4', 'user:6')).toBe(0);
    expect(await cache.get('user:3')).toEqual({ id: 'user:3' });
    expect(await stack.redis.command('GET', 'user:1')).toBe('"cached"');
  });

  it('runs at most `concurrency` loaders at once', async () => {
    let running = 0;
    let most = 0;
    const summary = await cache.warm(
      {
        keys: Array.from({ length: 24 }, (_, i) => `c:${i}`),
        load: async () => {
          running++;
          most = Math.max(most, running);
          await delay(20);
          running--;
          return 1;
        },
      },
      { concurrency: 3, batchSize: 12 },
    );
    expect(summary.loaded).toBe(24);
    expect(most).toBe(3);
  });

  it('stops before the next batch when its signal fires', async () => {
    const controller = new AbortController();
    const summary = await cache.warm(
      { keys: Array.from({ length: 30 }, (_, i) => `s:${i}`), load: () => 1 },
      { batchSize: 10, signal: controller.signal, onProgress: () => controller.abort() },
    );
    expect(summary).toMatchObject({ loaded: 10, aborted: true });
  });
});

describe('warm() when the cache is unreachable', () => {
  it('reports every key as failed, with the code, and never throws', async () => {
    const down = new Cachegate({ url: await deadUrl(), token: TOKENS.write, retry: false });
    const summary = await down.warm({ keys: ['x', 'y'], load: () => 1 });
    expect(summary.loaded).toBe(0);
    expect(summary.failed.map((f) => [f.key, (f.error as { code: string }).code])).toEqual([
      ['x', 'CG_ERR_UNAVAILABLE'],
      ['y', 'CG_ERR_UNAVAILABLE'],
    ]);
  });

  it('through the hybrid client, warms by direct Redis while the gateway is down', async () => {
    const hybrid = createHybridClient({
      url: await deadUrl(),
      token: TOKENS.write,
      redisUrl: stack.redis.url,
      retry: false,
    });
    try {
      await stack.redis.command('SET', 'h:1', '"kept"');
      const summary = await hybrid.warm(
        { keys: ['h:1', 'h:2', 'h:3'], load: (key) => ({ key }) },
        { ttl: 60 },
      );
      expect(summary).toEqual({ loaded: 2, skipped: 1, failed: [], aborted: false });
      expect(hybrid.activeTransport).toBe('redis');
      expect(await stack.redis.command('GET', 'h:2')).toBe('{"key":"h:2"}');
      expect(await stack.redis.command('GET', 'h:1')).toBe('"kept"');
    } finally {
      await hybrid.close();
    }
  });
});
