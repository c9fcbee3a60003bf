import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, waitFor } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

const COMMAND_TIMEOUT_MS = 500;
let redis: TestRedis;
let gateway: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startGateway(redis.url, { CACHEGATE_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) });
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});

const timed = async (request: Promise<Response>) => {
  const started = performance.now();
  const response = await request;
  return { response, ms: performance.now() - started };
};

describe('Redis outage', () => {
  it('answers 503 fast while Redis is down and recovers by itself when it returns', async () => {
    expect((await gateway.request('/v1/cache/k', { method: 'PUT', body: '{"value":1}' })).status).toBe(200);

    await redis.kill();
    for (const path of ['/v1/cache/k', '/get/k']) {
      const { response, ms } = await timed(gateway.request(path));
      expect(response.status, path).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      // Nothing was sent to Redis: clients may re-send even non-idempotent commands.
      expect(response.headers.get('cachegate-executed')).toBe('no');
      expect(ms).toBeLessThan(2 * COMMAND_TIMEOUT_MS);
    }
    const ready = await gateway.request('/readyz', { token: null });
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('1');
    // Public routes: the reason in fixed words, never Redis's address.
    for (const path of ['/readyz', '/health']) {
      const body = await (await gateway.request(path, { token: null })).text();
      expect(body).not.toContain(String(redis.port));
      expect(JSON.parse(body)).toMatchObject({ status: 'unavailable' });
    }

    redis = await redis.restart();
    const restartedAt = Date.now();
    await waitFor(
      async () => (await gateway.request('/get/k')).status === 200,
      5_000,
      'gateway did not recover',
    );
    expect(Date.now() - restartedAt).toBeLessThan(2_000);
    expect((await gateway.request('/readyz', { token: null })).status).toBe(200);
  });

  it('answers 503 within the command timeout when Redis hangs without closing the connection', async () => {
    await redis.command('SET', 'k', 'v');
    process.kill(redis.process.pid as number, 'SIGSTOP');
    try {
      const { response, ms } = await timed(gateway.request('/get/k'));
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ error: expect.stringContaining('in time') });
      // The command reached Redis, which may yet run it: no promise that it did not.
      expect(response.headers.get('cachegate-executed')).toBeNull();
      expect(ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 50);
      expect(ms).toBeLessThan(2 * COMMAND_TIMEOUT_MS);
      const health = await timed(gateway.request('/health', { token: null }));
      expect(health.response.status).toBe(503);
      const body = (await health.response.json()) as { redis: unknown };
      expect(body.redis).toEqual({ status: 'down', reason: 'no answer in time' });
      expect(JSON.stringify(body)).not.toContain(String(redis.port));
      expect(health.ms).toBeLessThan(2 * COMMAND_TIMEOUT_MS);
    } finally {
      process.kill(redis.process.pid as number, 'SIGCONT');
    }
    await waitFor(
      async () => (await gateway.request('/get/k')).status === 200,
      5_000,
      'gateway did not recover',
    );
  });

  it('the Redis rate-limit store is held to the command timeout too, and fails open', async () => {
    const limited = await startGateway(redis.url, {
      CACHEGATE_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
      CACHEGATE_RATE_LIMIT: '1000/1m',
      CACHEGATE_RATE_LIMIT_STORE: 'redis',
    });
    process.kill(redis.process.pid as number, 'SIGSTOP');
    try {
      const { response, ms } = await timed(limited.request('/get/k'));
      // The count times out and the request goes on (fail open) to meet the same stalled Redis: two
      // command timeouts in all, never a wait for Redis to wake up.
      expect(response.status).toBe(503);
      expect(ms).toBeGreaterThanOrEqual(2 * COMMAND_TIMEOUT_MS - 50);
      expect(ms).toBeLessThan(3 * COMMAND_TIMEOUT_MS);
    } finally {
      process.kill(redis.process.pid as number, 'SIGCONT');
      await limited.close();
    }
  });
});
