import { Cachegate, type CachegateError } from '@cachegate/client';
import { createHybridClient, type HybridClient, type HybridClientOptions } from '@cachegate/client/node';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../server/src/redis/embedded.js';
import { type ProxiedRequest, startProxy, type TestProxy } from './helpers/proxy.js';
import { deadUrl, delay, rejectionOf, type Stack, TOKENS, useProxiedStack } from './helpers/stack.js';

let stack: Stack;
let proxy: TestProxy;
useProxiedStack((s, p) => {
  stack = s;
  proxy = p;
});
const opened: HybridClient[] = [];

/** The availability probe: a PING with the token, where commands go. */
const isProbe = (request: ProxiedRequest) => request.body === '["PING"]';

afterEach(async () => {
  await Promise.all(opened.splice(0).map((client) => client.close()));
});

/** A gateway 503 that promises nothing ran and asks for a 1 s wait. */
const OVERLOADED_NOTHING_RAN = {
  kind: 'respond',
  status: 503,
  headers: { 'retry-after': '1', 'cachegate-executed': 'no', 'cachegate-error-code': 'CG_ERR_OVERLOADED' },
} as const;

/** A hybrid client through the proxy with quick retries, closed after the test; `options` override. */
function hybrid(options: HybridClientOptions = {}, fallbacks: CachegateError[] = []): HybridClient {
  const client = createHybridClient({
    url: proxy.url,
    token: TOKENS.write,
    redisUrl: stack.redis.url,
    env: {},
    retry: { minDelayMs: 10, maxDelayMs: 20 },
    onFallback: (error) => fallbacks.push(error),
    ...options,
  });
  opened.push(client);
  return client;
}

const http = (options: Partial<ConstructorParameters<typeof Cachegate>[0]> = {}) =>
  new Cachegate({
    url: proxy.url,
    token: TOKENS.write,
    retry: { minDelayMs: 10, maxDelayMs: 20 },
    ...options,
  });

describe('hybrid client: an INCR is never applied twice', () => {
  it('an INCR that reached a gateway which died before answering is not re-sent over Redis', async () => {
    proxy.behave(() => ({ kind: 'forward-then-drop' }));
    const fallbacks: CachegateError[] = [];
    const cache = hybrid({}, fallbacks);
    const error = await rejectionOf(cache.incr('counter'));
    expect(error.code).toBe('CG_ERR_OUTCOME_UNKNOWN');
    expect(error.message).toMatch(/INCR may or may not have been applied/);
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
    expect(proxy.requests).toHaveLength(1);
    expect(cache.activeTransport).toBe('redis');
    expect(fallbacks).toHaveLength(1);
  });

  it('the same failure re-sends a SET over Redis: it is safe to repeat', async () => {
    proxy.behave(() => ({ kind: 'forward-then-drop' }));
    const cache = hybrid();
    expect(await cache.set('k', { v: 1 })).toBe(true);
    expect(await stack.redis.command('GET', 'k')).toBe('{"v":1}');
    expect(cache.activeTransport).toBe('redis');
  });

  it('in one batch, the GET is re-sent and the INCR is not', async () => {
    await stack.redis.command('SET', 'g', '"value"');
    proxy.behave(() => ({ kind: 'forward-then-drop' }));
    const cache = hybrid();
    const [read, increment] = await Promise.allSettled([cache.get('g'), cache.incr('counter')]);
    expect(read).toEqual({ status: 'fulfilled', value: 'value' });
    expect((increment as PromiseRejectedResult).reason.code).toBe('CG_ERR_OUTCOME_UNKNOWN');
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
  });

  it('a transaction with an INCR is not re-sent either', async () => {
    proxy.behave(() => ({ kind: 'forward-then-drop' }));
    const cache = hybrid();
    const error = await rejectionOf(cache.multi().incr('counter').set('s', 1).exec());
    expect(error.code).toBe('CG_ERR_OUTCOME_UNKNOWN');
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
  });

  it('an INCR whose connection was refused (never sent) is sent over Redis and applied once', async () => {
    const cache = hybrid({ url: await deadUrl() });
    expect(await cache.incr('counter')).toBe(1);
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
    expect(cache.activeTransport).toBe('redis');
  });

  it('a 503 from the gateway falls back for reads but leaves an INCR unknown', async () => {
    proxy.behave(() => ({ kind: 'respond', status: 503, headers: { 'retry-after': '1' } }));
    const cache = hybrid();
    await stack.redis.command('SET', 'g', '1');
    expect(await cache.get('g')).toBe(1);
    const other = hybrid();
    expect((await rejectionOf(other.incr('counter'))).code).toBe('CG_ERR_OUTCOME_UNKNOWN');
    expect(await stack.redis.command('GET', 'counter')).toBeNull();
  });

  it('a 503 marked Cachegate-Executed: no (nothing ran) sends even an INCR over Redis, applied once', async () => {
    proxy.behave(() => ({
      kind: 'respond',
      status: 503,
      headers: { 'retry-after': '1', 'cachegate-executed': 'no' },
    }));
    const cache = hybrid();
    expect(await cache.incr('counter')).toBe(1);
    expect(cache.activeTransport).toBe('redis');
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
  });

  it('401 and 403 are not gateway failures: no fallback, the error surfaces', async () => {
    const fallbacks: CachegateError[] = [];
    const cache = hybrid({ token: 'wrong-token-0123456789' }, fallbacks);
    expect((await rejectionOf(cache.get('k'))).code).toBe('CG_ERR_AUTH_INVALID');
    expect(cache.activeTransport).toBe('http');
    expect(fallbacks).toEqual([]);
  });
});

describe('hybrid client: the HTTP retry rules run before any fallback', () => {
  it('a GET whose connection was reset twice is retried over HTTP and never falls back', async () => {
    await stack.redis.command('SET', 'g', '"value"');
    proxy.behave((_request, index) => (index < 2 ? { kind: 'drop' } : { kind: 'forward' }));
    const fallbacks: CachegateError[] = [];
    const cache = hybrid({}, fallbacks);
    expect(await cache.get('g')).toBe('value');
    expect(proxy.requests).toHaveLength(3);
    expect(cache.activeTransport).toBe('http');
    expect(fallbacks).toEqual([]);
  });

  it('a 429 is retried over HTTP, even an INCR, and applied once: no fallback', async () => {
    proxy.behave((_request, index) => (index === 0 ? { kind: 'respond', status: 429 } : { kind: 'forward' }));
    const cache = hybrid();
    expect(await cache.incr('counter')).toBe(1);
    expect(proxy.requests).toHaveLength(2);
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
    expect(cache.activeTransport).toBe('http');
  });

  it('once the retries are spent, a GET falls back to Redis', async () => {
    await stack.redis.command('SET', 'g', '"value"');
    proxy.behave(() => ({ kind: 'drop' }));
    const fallbacks: CachegateError[] = [];
    const cache = hybrid({}, fallbacks);
    expect(await cache.get('g')).toBe('value');
    expect(proxy.requests).toHaveLength(3);
    expect(cache.activeTransport).toBe('redis');
    expect(fallbacks.map((error) => error.code)).toEqual(['CG_ERR_UNAVAILABLE']);
  });

  it('an INCR whose first attempt may have run is not retried over HTTP nor sent over Redis', async () => {
    proxy.behave((_request, index) => (index === 0 ? { kind: 'forward-then-drop' } : { kind: 'forward' }));
    const cache = hybrid();
    const [read, increment] = await Promise.allSettled([cache.get('g'), cache.incr('counter')]);
    expect(read).toEqual({ status: 'fulfilled', value: null });
    expect((increment as PromiseRejectedResult).reason.code).toBe('CG_ERR_OUTCOME_UNKNOWN');
    expect(proxy.requests.map((request) => request.path)).toEqual(['/pipeline', '/']);
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
    expect(cache.activeTransport).toBe('http');
  });

  it('an INCR refused with Cachegate-Executed: no until the deadline nears goes to Redis, not to "unknown"', async () => {
    proxy.behave(() => OVERLOADED_NOTHING_RAN);
    const fallbacks: CachegateError[] = [];
    const cache = hybrid({ timeoutMs: 1500, retry: {} }, fallbacks);
    const started = performance.now();
    expect(await cache.incr('counter')).toBe(1);
    expect(performance.now() - started).toBeLessThan(1500);
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
    expect(fallbacks.map((error) => error.code)).toEqual(['CG_ERR_OVERLOADED']);
  });

  it('a request from before a recovery that fails after it does not start a second outage', async () => {
    let commandRequests = 0;
    proxy.behave((request) =>
      !isProbe(request) && commandRequests++ < 2 ? { kind: 'forward', delayMs: 1000 } : { kind: 'forward' },
    );
    const fallbacks: CachegateError[] = [];
    const cache = hybrid({ timeoutMs: 300, retry: false }, fallbacks);
    const first = cache.get('a');
    await delay(100);
    const second = cache.get('b');
    expect(await first).toBeNull(); // timed out at 300 ms, then read from Redis
    expect(cache.activeTransport).toBe('redis');
    expect(await cache.isServiceAvailable()).toBe(true);
    expect(cache.activeTransport).toBe('http');
    expect(await second).toBeNull(); // timed out at 400 ms, after the recovery
    expect(cache.activeTransport).toBe('http');
    expect(fallbacks).toHaveLength(1);
  });

  it("the periodic health probe takes no more than the call's own timeout", async () => {
    await stack.redis.command('SET', 'g', '"value"');
    proxy.behave((request) => (isProbe(request) ? { kind: 'forward', delayMs: 1500 } : { kind: 'drop' }));
    const cache = hybrid({ retry: false, recheckIntervalMs: 50 });
    expect(await cache.get('g')).toBe('value');
    expect(cache.activeTransport).toBe('redis');
    await delay(60);
    const started = performance.now();
    expect(await cache.get('g', { timeoutMs: 200 })).toBe('value');
    expect(performance.now() - started).toBeLessThan(600);
    expect(proxy.requests.some(isProbe)).toBe(true);
  });

  it('retry: false falls back at the first failure', async () => {
    await stack.redis.command('SET', 'g', '"value"');
    proxy.behave(() => ({ kind: 'drop' }));
    const cache = hybrid({ retry: false });
    expect(await cache.get('g')).toBe('value');
    expect(proxy.requests).toHaveLength(1);
    expect(cache.activeTransport).toBe('redis');
  });
});

describe('isomorphic client: retries only where safe', () => {
  it('an INCR that reached the gateway is not retried', async () => {
    proxy.behave(() => ({ kind: 'forward-then-drop' }));
    const error = await rejectionOf(http().incr('counter'));
    expect(error.code).toBe('CG_ERR_OUTCOME_UNKNOWN');
    expect(proxy.requests).toHaveLength(1);
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
  });

  it('a GET whose connection was reset is retried until it succeeds', async () => {
    await stack.redis.command('SET', 'g', '"value"');
    proxy.behave((_request, index) => (index < 2 ? { kind: 'drop' } : { kind: 'forward' }));
    expect(await http().get('g')).toBe('value');
    expect(proxy.requests).toHaveLength(3);
  });

  it('503 + Retry-After: the GET is retried, the INCR is not', async () => {
    proxy.behave((_request, index) =>
      index === 0 ? { kind: 'respond', status: 503, headers: { 'retry-after': '0' } } : { kind: 'forward' },
    );
    await stack.redis.command('SET', 'g', '2');
    expect(await http().get('g')).toBe(2);
    expect(proxy.requests).toHaveLength(2);

    proxy.requests.length = 0;
    proxy.behave(() => ({ kind: 'respond', status: 503 }));
    expect((await rejectionOf(http().incr('counter'))).code).toBe('CG_ERR_OUTCOME_UNKNOWN');
    expect(proxy.requests).toHaveLength(1);
  });

  it('503 + Cachegate-Executed: no: the gateway promises nothing ran, so even an INCR is retried', async () => {
    proxy.behave((_request, index) =>
      index === 0
        ? { kind: 'respond', status: 503, headers: { 'retry-after': '0', 'cachegate-executed': 'no' } }
        : { kind: 'forward' },
    );
    expect(await http().incr('counter')).toBe(1);
    expect(proxy.requests).toHaveLength(2);
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
  });

  it('a 429 rejects before anything runs, so even an INCR is retried, and applied once', async () => {
    proxy.behave((_request, index) => (index === 0 ? { kind: 'respond', status: 429 } : { kind: 'forward' }));
    expect(await http().incr('counter')).toBe(1);
    expect(proxy.requests).toHaveLength(2);
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
  });

  it('an INCR refused before the gateway listens is retried once it does, and applied once', async () => {
    const port = await freePort();
    const cache = new Cachegate({
      url: `http://127.0.0.1:${port}`,
      token: TOKENS.write,
      retry: { retries: 10, minDelayMs: 80, maxDelayMs: 120 },
    });
    const pending = cache.incr('counter');
    await delay(30);
    const late = await startProxy(stack.gateway.url, port);
    try {
      expect(await pending).toBe(1);
      expect(late.requests).toHaveLength(1);
      expect(await stack.redis.command('GET', 'counter')).toBe('1');
    } finally {
      await late.close();
    }
  });

  it('retries exhausted: the last error surfaces', async () => {
    proxy.behave(() => ({ kind: 'drop' }));
    const error = await rejectionOf(http({ retry: { retries: 2, minDelayMs: 1, maxDelayMs: 2 } }).get('g'));
    expect(error.code).toBe('CG_ERR_UNAVAILABLE');
    expect(proxy.requests).toHaveLength(3);
  });

  it('a later attempt refused as a whole (403) leaves an INCR that may have run unknown, and sends it no more', async () => {
    await stack.redis.command('SET', 'g', '1');
    proxy.behave((_request, index) =>
      index === 0
        ? { kind: 'forward-then-drop' }
        : { kind: 'respond', status: 403, headers: { 'cachegate-error-code': 'CG_ERR_COMMAND_DENIED' } },
    );
    const cache = http();
    const [increment, read] = await Promise.allSettled([cache.incr('counter'), cache.get('g')]);
    expect((increment as PromiseRejectedResult).reason.code).toBe('CG_ERR_OUTCOME_UNKNOWN');
    expect((read as PromiseRejectedResult).reason.code).toBe('CG_ERR_COMMAND_DENIED');
    // The first attempt and the GET's retry; the 403 splits nothing, so the INCR is not sent again.
    expect(proxy.requests.map((request) => request.path)).toEqual(['/pipeline', '/']);
    expect(await stack.redis.command('GET', 'counter')).toBe('1');
  });

  it("a backoff that would pass the deadline is not started: the call ends with the gateway's own error", async () => {
    proxy.behave(() => OVERLOADED_NOTHING_RAN);
    const cache = new Cachegate({ url: proxy.url, token: TOKENS.write, timeoutMs: 1500 });
    const started = performance.now();
    const error = await rejectionOf(cache.incr('counter'));
    expect(error.code).toBe('CG_ERR_OVERLOADED');
    expect(performance.now() - started).toBeLessThan(1500);
    // Sent at 0 and after the 1 s Retry-After; a second 1 s wait would end past the 1.5 s deadline.
    expect(proxy.requests).toHaveLength(2);
  });

  it("honours a 429's Retry-After", async () => {
    proxy.behave((_request, index) =>
      index === 0 ? { kind: 'respond', status: 429, headers: { 'retry-after': '0.3' } } : { kind: 'forward' },
    );
    const started = performance.now();
    expect(await http({ retry: { retries: 1, minDelayMs: 1, maxDelayMs: 1000 } }).incr('counter')).toBe(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('retry: false sends once', async () => {
    proxy.behave(() => ({ kind: 'drop' }));
    expect((await rejectionOf(http({ retry: false }).get('g'))).code).toBe('CG_ERR_UNAVAILABLE');
    expect(proxy.requests).toHaveLength(1);
  });
});
