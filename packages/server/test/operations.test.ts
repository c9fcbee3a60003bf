import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnReadyGateway, startGateway, type TestGateway, TOKENS, waitFor } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  await redis.command('FLUSHALL');
});

/** Reads one sample of a metric from Prometheus text, 0 when absent. */
function sample(text: string, name: string, labels = ''): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}${labels} `) || l.startsWith(`${name}${labels}{`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

const busyScript = (ms: number) =>
  `local s = redis.call('TIME') local t0 = s[1] * 1000000 + s[2] ` +
  `while true do local n = redis.call('TIME') if n[1] * 1000000 + n[2] - t0 > ${ms * 1000} then break end end ` +
  `return 'done'`;

describe('metrics', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway(redis.url);
  });
  afterAll(async () => {
    await gateway?.close();
  });
  const scrape = async () => (await gateway.request('/metrics', { token: TOKENS.admin })).text();

  it('needs the main admin token: it names every database and its traffic', async () => {
    expect((await gateway.request('/metrics', { token: null })).status).toBe(401);
    for (const token of [TOKENS.read, TOKENS.write]) {
      const refused = await gateway.request('/metrics', { token });
      expect(refused.status).toBe(403);
      expect(await refused.text()).not.toContain('cachegate_');
    }
  });

  it('exports every metric family, the process defaults included', async () => {
    const response = await gateway.request('/metrics', { token: TOKENS.admin });
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    for (const family of [
      'cachegate_http_requests_total',
      'cachegate_http_request_duration_seconds',
      'cachegate_http_requests_in_flight',
      'cachegate_redis_command_duration_seconds',
      'cachegate_redis_up',
      'cachegate_redis_reconnects_total',
      'cachegate_cache_hits_total',
      'cachegate_cache_misses_total',
      'cachegate_requests_rejected_total',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text, family).toContain(`# TYPE ${family} `);
    }
    expect(sample(text, 'cachegate_redis_up')).toBe(1);
  });

  it('counts a cache hit and a cache miss once each, through the cache API and commands alike', async () => {
    const before = await scrape();
    await gateway.request('/v1/cache/present', { method: 'PUT', body: '{"value":1}' });
    expect((await gateway.request('/v1/cache/present')).status).toBe(200);
    expect((await gateway.request('/v1/cache/absent')).status).toBe(404);
    await gateway.request('/', { method: 'POST', body: '["MGET","present","absent","absent2"]' });
    const after = await scrape();
    expect(sample(after, 'cachegate_cache_hits_total') - sample(before, 'cachegate_cache_hits_total')).toBe(
      2,
    );
    expect(
      sample(after, 'cachegate_cache_misses_total') - sample(before, 'cachegate_cache_misses_total'),
    ).toBe(3);
  });

  it('labels requests by route pattern, never by raw URL or key', async () => {
    await gateway.request('/v1/cache/secret-key-name');
    await gateway.request('/get/another-secret');
    const text = await scrape();
    expect(text).toContain('route="/v1/cache/*",method="GET",status="404"');
    expect(text).toContain('route="/*",method="GET",status="200"');
    expect(text).not.toContain('secret');
    expect(
      sample(text, 'cachegate_redis_command_duration_seconds_count', '{command="get",database="default"}'),
    ).toBeGreaterThan(0);
  });

  it('counts rejections by reason', async () => {
    const before = await scrape();
    await gateway.request('/get/k', { token: null });
    await gateway.request('/', { method: 'POST', body: '["SET","k","v"]', token: TOKENS.read });
    const after = await scrape();
    const delta = (reason: string) =>
      sample(after, 'cachegate_requests_rejected_total', `{reason="${reason}"}`) -
      sample(before, 'cachegate_requests_rejected_total', `{reason="${reason}"}`);
    expect(delta('auth')).toBe(1);
    expect(delta('policy')).toBe(1);
    expect(delta('rate_limit')).toBe(0);
  });

  it('tracks the Redis connection going down and coming back', async () => {
    await redis.kill();
    await waitFor(async () => sample(await scrape(), 'cachegate_redis_up') === 0, 5_000, 'redis_up stayed 1');
    redis = await redis.restart();
    await waitFor(async () => sample(await scrape(), 'cachegate_redis_up') === 1, 5_000, 'redis_up stayed 0');
    expect(sample(await scrape(), 'cachegate_redis_reconnects_total')).toBeGreaterThan(0);
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After and RateLimit headers past the limit, per token', async () => {
    const gateway = await startGateway(redis.url, { CACHEGATE_RATE_LIMIT: '3/1h' });
    try {
      for (let i = 0; i < 3; i++) {
        const response = await gateway.request('/get/k');
        expect(response.status).toBe(200);
        expect(response.headers.get('ratelimit-limit')).toBe('3');
        expect(response.headers.get('ratelimit-remaining')).toBe(String(2 - i));
        expect(response.headers.get('ratelimit-policy')).toBe('3;w=3600');
      }
      const limited = await gateway.request('/get/k');
      expect(limited.status).toBe(429);
      expect(await limited.json()).toEqual({ error: expect.stringContaining('3/1h') });
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect(limited.headers.get('ratelimit-remaining')).toBe('0');
      expect(limited.headers.get('ratelimit-reset')).toBe(String(retryAfter));
      // Another token has its own budget.
      expect((await gateway.request('/get/k', { token: TOKENS.read })).status).toBe(200);
      // Cache API errors use the cache format.
      expect((await (await gateway.request('/v1/cache/k')).json()).error.code).toBe('CG_ERR_RATE_LIMITED');
    } finally {
      await gateway.close();
    }
  });

  it('applies per-token overrides from the tokens file, including "off"', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cachegate-rl-')), 'tokens.json');
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'tight', token: 'tight-token-0123456789', scope: 'read', rateLimit: '1/1h' },
        { name: 'free', token: 'free-token-0123456789', scope: 'read', rateLimit: 'off' },
      ]),
    );
    const gateway = await startGateway(redis.url, {
      CACHEGATE_RATE_LIMIT: '3/1h',
      CACHEGATE_TOKENS_FILE: file,
    });
    try {
      expect((await gateway.request('/get/k', { token: 'tight-token-0123456789' })).status).toBe(200);
      expect((await gateway.request('/get/k', { token: 'tight-token-0123456789' })).status).toBe(429);
      for (let i = 0; i < 6; i++) {
        const response = await gateway.request('/get/k', { token: 'free-token-0123456789' });
        expect(response.status).toBe(200);
        expect(response.headers.get('ratelimit-limit')).toBeNull();
      }
    } finally {
      await gateway.close();
    }
  });

  it('shares one limit between two gateway processes through the Redis store', async () => {
    const env = {
      REDIS_URL: redis.url,
      CACHEGATE_TOKEN: TOKENS.write,
      CACHEGATE_RATE_LIMIT: '6/1h',
      CACHEGATE_RATE_LIMIT_STORE: 'redis',
    };
    const gateways = await Promise.all([spawnReadyGateway(env), spawnReadyGateway(env)]);
    const bases = gateways.map((gateway) => gateway.base);
    const get = (base: string) =>
      fetch(`${base}/get/k`, { headers: { authorization: `Bearer ${TOKENS.write}` } });
    try {
      const statuses = [];
      for (const base of [...bases, ...bases, ...bases]) statuses.push((await get(base)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
      expect((await get(bases[0] as string)).status).toBe(429);
      expect((await get(bases[1] as string)).status).toBe(429);
    } finally {
      for (const gateway of gateways) gateway.child.kill('SIGTERM');
      await Promise.all(gateways.map((g) => g.exited));
    }
  });
});

describe('the Redis rate-limit store', () => {
  it("keeps its counters where no token's Redis user reaches them: the limited token cannot lift its limit", async () => {
    // Issue 21, class 7 (invariant: a token's limit holds whatever the token sends).
    const gateway = await startGateway(redis.url, {
      CACHEGATE_RATE_LIMIT: '8/1h',
      CACHEGATE_RATE_LIMIT_STORE: 'redis',
    });
    try {
      expect((await gateway.request('/get/k')).status).toBe(200);
      const [counter] = (await redis.command('KEYS', 'cachegate:ratelimit:*')) as string[];
      for (const attempt of [
        ['SET', counter, '-1000000000'],
        ['INCRBY', counter, '-1000000000'],
        ['DEL', counter],
        ['EVAL', "return redis.call('SET', KEYS[1], '-1000000000')", '1', counter],
      ]) {
        const refused = await gateway.request('/', { method: 'POST', body: JSON.stringify(attempt) });
        expect(refused.status).toBe(400);
        expect((await refused.json()).error).toContain('NOPERM');
      }
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await gateway.request('/get/k')).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
    } finally {
      await gateway.close();
    }
  });

  it('fails closed on a spoiled counter, which heals with its window', async () => {
    const gateway = await startGateway(redis.url, {
      CACHEGATE_RATE_LIMIT: '5/1h',
      CACHEGATE_RATE_LIMIT_STORE: 'redis',
    });
    try {
      expect((await gateway.request('/get/k')).status).toBe(200);
      const [counter] = (await redis.command('KEYS', 'cachegate:ratelimit:*')) as string[];
      await redis.command('SET', counter as string, 'x');
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await gateway.request('/get/k')).status);
      expect(statuses).toEqual([429, 429, 429]);
      // It heals with its window: the spoiled counter got an expiry.
      expect(Number(await redis.command('PTTL', counter as string))).toBeGreaterThan(0);
    } finally {
      await gateway.close();
    }
  });
});

describe('backpressure', () => {
  it('answers 503 + Retry-After at once past CACHEGATE_MAX_IN_FLIGHT while admitted requests complete', async () => {
    const gateway = await startGateway(redis.url, { CACHEGATE_MAX_IN_FLIGHT: '2' });
    try {
      const slow = [1, 2].map(() =>
        gateway.request('/', { method: 'POST', body: JSON.stringify(['EVAL', busyScript(300), '0']) }),
      );
      await waitFor(() => gateway.app.inFlight() === 2, 2_000, 'slow requests not in flight');
      const started = performance.now();
      const shed = await gateway.request('/get/k');
      expect(shed.status).toBe(503);
      expect(performance.now() - started).toBeLessThan(200);
      expect(shed.headers.get('retry-after')).toBe('1');
      expect((await shed.json()).error).toContain('CACHEGATE_MAX_IN_FLIGHT');
      expect((await gateway.request('/livez', { token: null })).status).toBe(200);
      const done = await Promise.all(slow);
      expect(done.map((r) => r.status)).toEqual([200, 200]);
      expect((await gateway.request('/get/k')).status).toBe(200);
      const metrics = await (await gateway.request('/metrics', { token: TOKENS.admin })).text();
      expect(sample(metrics, 'cachegate_requests_rejected_total', '{reason="overload"}')).toBe(1);
    } finally {
      await gateway.close();
    }
  });

  it('sheds the tokens that load a lagging gateway, and serves a token with nothing in flight', async () => {
    const gateway = await startGateway(redis.url, { CACHEGATE_MAX_EVENT_LOOP_DELAY_MS: '100' });
    const holder = connect({ host: '127.0.0.1', port: Number(new URL(gateway.url).port) });
    try {
      // The write token holds a request in flight: a body that never ends.
      holder.on('error', () => undefined);
      holder.write(
        `POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.write}\r\n` +
          'Transfer-Encoding: chunked\r\n\r\n5\r\n["PIN',
      );
      await waitFor(() => gateway.app.inFlight() === 1, 2000, 'the body never started');
      // Block this process's event loop, which is also the in-process gateway's.
      const until = Date.now() + 800;
      while (Date.now() < until) {}
      await new Promise((done) => setTimeout(done, 10));
      const loading = await gateway.request('/get/k');
      expect(loading.status).toBe(503);
      expect((await loading.json()).error).toContain('event loop');
      // Another token, with nothing in flight, is not turned away for the first one's load.
      expect((await gateway.request('/get/k', { token: TOKENS.read })).status).toBe(200);
      holder.destroy();
      await waitFor(async () => (await gateway.request('/get/k')).status === 200, 3_000, 'never recovered');
    } finally {
      holder.destroy();
      await gateway.close();
    }
  });
});
