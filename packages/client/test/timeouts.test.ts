import { Cachegate, type CachegateError } from '@cachegate/client';
import { createHybridClient } from '@cachegate/client/node';
import { describe, expect, it } from 'vitest';
import type { TestProxy } from './helpers/proxy.js';
import { delay, rejectionOf, type Stack, TOKENS, useProxiedStack } from './helpers/stack.js';

/** The proxy holds every request this long before forwarding it: a gateway that hangs. */
const HANG_MS = 1500;

let stack: Stack;
let proxy: TestProxy;
useProxiedStack(
  (s, p) => {
    stack = s;
    proxy = p;
  },
  { kind: 'forward', delayMs: HANG_MS },
);

async function timed<T>(work: Promise<T>): Promise<{ error: Error & { code?: string }; ms: number }> {
  const started = Date.now();
  const error = await rejectionOf(work);
  return { error, ms: Date.now() - started };
}

describe('timeouts', () => {
  it('a call fails with CG_ERR_TIMEOUT after the default timeoutMs', async () => {
    const cache = new Cachegate({ url: proxy.url, token: TOKENS.write, timeoutMs: 200 });
    const { error, ms } = await timed(cache.get('k'));
    expect(error.code).toBe('CG_ERR_TIMEOUT');
    expect((error as unknown as { timeoutMs: number }).timeoutMs).toBe(200);
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(HANG_MS);
  });

  it('a per-call timeoutMs overrides the default', async () => {
    const cache = new Cachegate({ url: proxy.url, token: TOKENS.write, timeoutMs: 10_000 });
    const { error, ms } = await timed(cache.set('k', 1, { timeoutMs: 150 }));
    expect(error.code).toBe('CG_ERR_TIMEOUT');
    expect(ms).toBeLessThan(HANG_MS);
  });

  it('retries never outlive the deadline', async () => {
    proxy.behave(() => ({ kind: 'drop' }));
    const cache = new Cachegate({
      url: proxy.url,
      token: TOKENS.write,
      timeoutMs: 300,
      retry: { retries: 1000, minDelayMs: 20, maxDelayMs: 40 },
    });
    const { error, ms } = await timed(cache.get('k'));
    // The last reset once no further backoff fits, or the timeout if an attempt was still out at 300 ms.
    expect(['CG_ERR_UNAVAILABLE', 'CG_ERR_TIMEOUT']).toContain(error.code);
    expect(ms).toBeLessThan(400);
    expect(proxy.requests.length).toBeGreaterThan(1);
  });

  it("the caller's AbortSignal cancels with CG_ERR_ABORTED", async () => {
    const cache = new Cachegate({ url: proxy.url, token: TOKENS.write });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const { error, ms } = await timed(cache.get('k', { signal: controller.signal }));
    expect(error.code).toBe('CG_ERR_ABORTED');
    expect(ms).toBeLessThan(HANG_MS);
  });

  it('explicit pipelines honour the timeout too', async () => {
    const cache = new Cachegate({ url: proxy.url, token: TOKENS.write, timeoutMs: 150 });
    expect((await rejectionOf(cache.pipeline().get('a').get('b').exec())).code).toBe('CG_ERR_TIMEOUT');
  });
});

describe('hybrid client and a hanging gateway', () => {
  it('a read times out on HTTP, falls back to Redis and succeeds', async () => {
    await stack.redis.command('SET', 'k', '"direct"');
    const fallbacks: CachegateError[] = [];
    const cache = createHybridClient({
      url: proxy.url,
      token: TOKENS.write,
      redisUrl: stack.redis.url,
      timeoutMs: 200,
      env: {},
      onFallback: (error) => fallbacks.push(error),
    });
    try {
      const started = Date.now();
      expect(await cache.get('k')).toBe('direct');
      expect(Date.now() - started).toBeLessThan(HANG_MS);
      expect(fallbacks.map((error) => error.code)).toEqual(['CG_ERR_TIMEOUT']);
      expect(cache.activeTransport).toBe('redis');
    } finally {
      await cache.close();
    }
  });

  it('a timed-out INCR is not re-sent: once the slow gateway runs it, the counter is 1, not 2', async () => {
    const cache = createHybridClient({
      url: proxy.url,
      token: TOKENS.write,
      redisUrl: stack.redis.url,
      timeoutMs: 200,
      env: {},
    });
    try {
      expect((await rejectionOf(cache.incr('counter'))).code).toBe('CG_ERR_OUTCOME_UNKNOWN');
      // The proxy still delivers the request to the gateway after its delay.
      await delay(HANG_MS + 300);
      expect(await stack.redis.command('GET', 'counter')).toBe('1');
    } finally {
      await cache.close();
    }
  });
});
