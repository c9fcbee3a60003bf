import { Cachegate } from '@cachegate/client';
import { type CachegateError, createHybridClient, type HybridClient } from '@cachegate/client/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../server/src/redis/embedded.js';
import { type GatewayProcess, spawnGateway, TOKENS } from '../../server/test/helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../../server/test/helpers/redis.js';
import { delay, rejectionOf } from './helpers/stack.js';

/**
 * The seed's failover scenario with real processes: the built gateway (`node packages/server/dist/main.js`,
 * run `npm run build` first) killed mid-traffic and started again on the same port, a real redis-server.
 */
const RECHECK_MS = 300;

let redis: TestRedis;
let port: number;
let gateway: GatewayProcess | undefined;
let cache: HybridClient;
const fallbacks: CachegateError[] = [];
const recoveries: number[] = [];

async function launchGateway(): Promise<GatewayProcess> {
  const child = spawnGateway({
    PORT: String(port),
    HOST: '127.0.0.1',
    CACHEGATE_REDIS_URL: redis.url,
    CACHEGATE_TOKEN: TOKENS.write,
    CACHEGATE_LOG_LEVEL: 'warn',
  });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const ready = await fetch(`http://127.0.0.1:${port}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return child;
    if (child.child.exitCode !== null) break;
    await delay(50);
  }
  child.child.kill('SIGKILL');
  throw new Error(`the gateway did not become healthy:\n${child.output()}`);
}

beforeAll(async () => {
  redis = await startTestRedis();
  port = await freePort();
  gateway = await launchGateway();
  cache = createHybridClient({
    url: `http://127.0.0.1:${port}`,
    token: TOKENS.write,
    redisUrl: redis.url,
    recheckIntervalMs: RECHECK_MS,
    timeoutMs: 2000,
    env: {},
    onFallback: (error) => fallbacks.push(error),
    onRecover: ({ unavailableForMs }) => recoveries.push(unavailableForMs),
  });
}, 30_000);

afterAll(async () => {
  await cache?.close();
  gateway?.child.kill('SIGKILL');
  await gateway?.exited;
  await redis?.stop();
});

describe('hybrid failover with real processes', () => {
  it('the gateway killed in the middle of 2,000 operations: zero failures, onFallback fired', async () => {
    const workers = 4;
    const perWorker = 500;
    let completed = 0;
    const failures: unknown[] = [];
    let killedAt = -1;

    const worker = async (w: number) => {
      for (let i = 0; i < perWorker; i += 2) {
        const key = `w${w}:k${i % 20}`;
        const value = { w, i, text: 'ação 😀', asString: String(i) };
        try {
          expect(await cache.set(key, value)).toBe(true);
          completed++;
          expect(await cache.get(key)).toEqual(value);
          completed++;
        } catch (error) {
          failures.push(error);
        }
        // Kill while the other workers have requests in flight: no await between the check and the kill.
        if (killedAt === -1 && completed >= 500) {
          killedAt = completed;
          gateway?.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
    await gateway?.exited;

    expect(failures).toEqual([]);
    expect(completed).toBe(2000);
    expect(killedAt).toBeGreaterThanOrEqual(500);
    expect(killedAt).toBeLessThan(1000);
    expect(cache.activeTransport).toBe('redis');
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]?.code).toMatch(/CG_ERR_UNAVAILABLE|CG_ERR_TIMEOUT/);
    // Every worker's last write is in Redis: what the direct path acknowledged really landed.
    for (let w = 0; w < workers; w++) {
      const stored = await redis.command('GET', `w${w}:k${(perWorker - 2) % 20}`);
      expect(JSON.parse(String(stored))).toMatchObject({ w });
    }
  });

  it('the gateway restarted on the same port: back on http within the recheck interval, onRecover fired', async () => {
    await cache.set('written-during-outage', { ok: true });
    gateway = await launchGateway();
    const healthyAt = Date.now();
    const failures: unknown[] = [];
    while (cache.activeTransport === 'redis' && Date.now() - healthyAt < 5_000) {
      await cache.get('written-during-outage').catch((error: unknown) => failures.push(error));
      await delay(20);
    }
    const switchedAfterMs = Date.now() - healthyAt;
    expect(failures).toEqual([]);
    expect(cache.activeTransport).toBe('http');
    expect(switchedAfterMs).toBeLessThanOrEqual(RECHECK_MS + 250);
    expect(recoveries).toHaveLength(1);
    expect(fallbacks).toHaveLength(1);
    // The gateway serves what was written directly during the outage.
    const overHttp = new Cachegate({ url: `http://127.0.0.1:${port}`, token: TOKENS.write });
    expect(await overHttp.get('written-during-outage')).toEqual({ ok: true });
    expect(await cache.incr('after-recovery')).toBe(1);
  });

  it('gateway and Redis both down: a clear CG_ERR_UNAVAILABLE, fast', async () => {
    gateway?.child.kill('SIGKILL');
    await gateway?.exited;
    gateway = undefined;
    await redis.kill();
    const started = Date.now();
    const error = await rejectionOf(cache.get('anything'));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.code).toBe('CG_ERR_UNAVAILABLE');
    expect(error.message).toMatch(/direct Redis failed/);
    // While on Redis (within the recheck interval) the next call fails just as fast.
    const again = Date.now();
    expect((await rejectionOf(cache.set('k', 1))).code).toBe('CG_ERR_UNAVAILABLE');
    expect(Date.now() - again).toBeLessThan(1000);
    redis = await redis.restart();
  });
});
