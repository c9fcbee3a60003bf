import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { nearCachesOf } from '../../src/redis/backend.js';
import { SAVED_HOT_SET_KEY } from '../../src/warming/saved-hot-set.js';
import { spawnReadyGateway, TOKENS, testConfig, waitFor } from '../helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(() => redis?.stop());
beforeEach(() => redis.command('FLUSHALL'));

const NEAR = { CACHEGATE_NEAR_CACHE: 'on' };
const HOT = Array.from({ length: 60 }, (_, i) => `hot:${i}`);

/** A gateway as main.ts starts one: built, warm-started, then listening on a free port. */
async function start(env: Record<string, string> = {}) {
  const app = await buildApp(testConfig(redis.url, { ...NEAR, ...env }), {
    logger: pino({ level: 'silent' }),
  });
  const report = await app.warmStart();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const request = (path: string, init: RequestInit = {}, token: string = TOKENS.write) =>
    fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
  return { app, report, base, request };
}

/** Near-cache hits and misses so far, from /metrics. */
async function nearCacheCounts(gateway: Awaited<ReturnType<typeof start>>) {
  const text = await (await gateway.request('/metrics', {}, TOKENS.admin)).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    hits: value('cachegate_near_cache_hits_total'),
    misses: value('cachegate_near_cache_misses_total'),
  };
}

/** Runs a gateway whose callers read the hot keys (the first ones most), then stops it: it saves the hot set. */
async function runAndStop(reads: (gateway: Awaited<ReturnType<typeof start>>) => Promise<void>) {
  const gateway = await start();
  await reads(gateway);
  await gateway.app.close();
}

async function readHotKeys(gateway: Awaited<ReturnType<typeof start>>) {
  for (let i = 0; i < HOT.length; i++) {
    // hot:0 read 3 times, the others once or twice: the saved order starts with hot:0.
    const times = i === 0 ? 3 : 1 + (i % 2);
    for (let t = 0; t < times; t++) await gateway.request(`/get/${HOT[i]}`);
  }
}

describe('the hot set across restarts', () => {
  it('is saved in Redis under a reserved key when a gateway stops, most read first', async () => {
    for (const key of HOT) await redis.command('SET', key, `"${key}"`);
    await runAndStop(readHotKeys);
    const saved = JSON.parse(String(await redis.command('GET', SAVED_HOT_SET_KEY)));
    expect(saved.keys[0]).toBe('hot:0');
    expect(new Set(saved.keys)).toEqual(new Set(HOT));
    expect(Number(await redis.command('TTL', SAVED_HOT_SET_KEY))).toBeGreaterThan(0);
  });

  it('seeds the next gateway’s hot set before any read, in the saved order', async () => {
    await redis.command('SET', SAVED_HOT_SET_KEY, JSON.stringify({ savedAt: '', keys: ['c', 'a', 'b'] }));
    for (const key of ['a', 'b', 'c']) await redis.command('SET', key, '1');
    const gateway = await start({ CACHEGATE_WARM_START_MS: '0' });
    try {
      // Without a warm start the gateway listens at once; the seed follows once Redis is there.
      const hotKeys = async () => {
        const body = (await (await gateway.request('/v1/admin/hot-keys', {}, TOKENS.admin)).json()) as {
          entries: { key: string }[];
        };
        return body.entries.map((entry) => entry.key);
      };
      await waitFor(async () => (await hotKeys()).length > 0, 5000, 'the hot set was never seeded');
      expect(await hotKeys()).toEqual(['c', 'a', 'b']);
    } finally {
      await gateway.app.close();
    }
  });
});

describe('warm start of the near cache', () => {
  beforeEach(async () => {
    for (const key of HOT) await redis.command('SET', key, `"${key}"`);
    await runAndStop(readHotKeys);
  });

  it('fills the near cache before listening, so the first reads of the hot set are hits', async () => {
    const gateway = await start();
    try {
      expect(gateway.report).toMatchObject({ saved: HOT.length, read: HOT.length });
      expect(gateway.report?.stoppedBy).toBeUndefined();
      const before = await nearCacheCounts(gateway);
      for (const key of HOT)
        expect(await (await gateway.request(`/get/${key}`)).json()).toEqual({ result: `"${key}"` });
      const after = await nearCacheCounts(gateway);
      expect(after.hits - before.hits).toBe(HOT.length);
      expect(after.misses - before.misses).toBe(0);
    } finally {
      await gateway.app.close();
    }
  });

  it('does nothing with CACHEGATE_WARM_START_MS=0: the first reads miss', async () => {
    const gateway = await start({ CACHEGATE_WARM_START_MS: '0' });
    try {
      expect(gateway.report).toBeUndefined();
      await waitFor(
        () => nearCachesOf(gateway.app.backend)[0]?.isLive === true,
        5000,
        'tracking never went live',
      );
      const before = await nearCacheCounts(gateway);
      for (const key of HOT) await gateway.request(`/get/${key}`);
      const after = await nearCacheCounts(gateway);
      expect(after.hits - before.hits).toBe(0);
      expect(after.misses - before.misses).toBe(HOT.length);
    } finally {
      await gateway.app.close();
    }
  });

  it('stops at half the near cache’s budget', async () => {
    const big = 'x'.repeat(2000);
    for (const key of HOT) await redis.command('SET', key, big);
    const budget = 64 * 1024;
    const gateway = await start({ CACHEGATE_NEAR_CACHE_MAX_BYTES: String(budget) });
    try {
      expect(gateway.report?.stoppedBy).toBe('bytes');
      expect(gateway.report?.read).toBeLessThan(HOT.length);
      // Half the budget, overshot by at most about one entry (2 kB and its bookkeeping).
      expect(gateway.report?.bytes).toBeGreaterThan(budget / 4);
      expect(gateway.report?.bytes).toBeLessThanOrEqual(budget / 2 + 3000);
    } finally {
      await gateway.app.close();
    }
  });

  it('is not done where read and write tokens could read the saved hot set (no scope users)', async () => {
    const gateway = await start({ CACHEGATE_SCOPE_USERS: 'off' });
    try {
      expect(gateway.report).toBeUndefined();
    } finally {
      await gateway.app.close();
    }
  });

  it('happens before the gateway process reports ready', async () => {
    const process = await spawnReadyGateway({
      CACHEGATE_REDIS_URL: redis.url,
      CACHEGATE_TOKEN: TOKENS.write,
      CACHEGATE_NEAR_CACHE: 'on',
    });
    try {
      const health = (await (await fetch(`${process.base}/health`)).json()) as {
        nearCache: { entries: number };
      };
      expect(health.nearCache.entries).toBe(HOT.length);
    } finally {
      process.child.kill('SIGTERM');
      await process.exited;
    }
  });
});
