import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nearCachesOf } from '../src/redis/backend.js';
import { startGateway, type TestGateway, TOKENS, waitFor } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
let gateway: TestGateway;
/** A second gateway on the same Redis, near cache on too. */
let other: TestGateway;

const NEAR = { CACHEGATE_NEAR_CACHE: 'on' };

beforeAll(async () => {
  redis = await startTestRedis({ config: ['user reader on >reader-password-0123 ~public:* +@read'] });
  const tokensFile = join(tmpdir(), `cachegate-near-tokens-${process.pid}.json`);
  writeFileSync(
    tokensFile,
    JSON.stringify([
      {
        name: 'reader',
        token: 'token-of-the-acl-reader-0123',
        scope: 'read',
        redisUser: 'reader',
        redisPassword: 'reader-password-0123',
      },
    ]),
  );
  gateway = await startGateway(redis.url, { ...NEAR, CACHEGATE_TOKENS_FILE: tokensFile });
  other = await startGateway(redis.url, NEAR);
  await waitFor(() => isLive(gateway) && isLive(other), 10_000, 'tracking never went live');
});
afterAll(async () => {
  await other?.close();
  await gateway?.close();
  await redis?.stop();
});
beforeEach(async () => {
  await redis.command('FLUSHALL');
  await redis.command('CONFIG', 'RESETSTAT');
});

/** Keeps Redis busy for ARGV[1] microseconds. */
const BUSY_SCRIPT =
  "local s = redis.call('TIME') repeat local n = redis.call('TIME') until (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > tonumber(ARGV[1])";

const isLive = (g: TestGateway) => nearCachesOf(g.app.backend).some((cache) => cache.isLive);
const run = async (g: TestGateway, command: unknown[], token: string = TOKENS.write) =>
  (await g.request('/', { method: 'POST', body: JSON.stringify(command), token })).json();
const get = async (g: TestGateway, key: string) => (await run(g, ['GET', key])).result;

/** How many times Redis ran `command` since the last CONFIG RESETSTAT. */
async function callsOf(command: string): Promise<number> {
  const info = String(await redis.command('INFO', 'commandstats'));
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

describe('near cache', () => {
  it('answers repeated reads from memory: GET, MGET, HGET, EXISTS, through POST / and /pipeline', async () => {
    await redis.command('SET', 'k', 'v');
    await redis.command('HSET', 'h', 'f', 'hv');
    for (let i = 0; i < 5; i++) {
      expect(await get(gateway, 'k')).toBe('v');
      expect(await run(gateway, ['MGET', 'k', 'missing'])).toEqual({ result: ['v', null] });
      const items = await gateway.request('/pipeline', {
        method: 'POST',
        body: JSON.stringify([
          ['HGET', 'h', 'f'],
          ['EXISTS', 'k'],
        ]),
      });
      expect(await items.json()).toEqual([{ result: 'hv' }, { result: 1 }]);
    }
    expect([
      await callsOf('get'),
      await callsOf('mget'),
      await callsOf('hget'),
      await callsOf('exists'),
    ]).toEqual([1, 1, 1, 1]);
  });

  it('a caller reads its own write: the write is answered once its invalidation arrived', async () => {
    for (let i = 0; i < 200; i++) {
      expect(await get(gateway, 'own')).toBe(i === 0 ? null : String(i - 1));
      expect(await run(gateway, ['SET', 'own', String(i)])).toEqual({ result: 'OK' });
    }
    // Scripts and transactions write too: the barrier covers them.
    await run(gateway, ['EVAL', "return redis.call('SET', KEYS[1], 'scripted')", '1', 'own']);
    expect(await get(gateway, 'own')).toBe('scripted');
    await gateway.request('/multi-exec', { method: 'POST', body: JSON.stringify([['SET', 'own', 'multi']]) });
    expect(await get(gateway, 'own')).toBe('multi');
  });

  it('follows writes by another gateway and a direct client within the invalidation latency', async () => {
    let worstMs = 0;
    for (let i = 0; i < 50; i++) {
      expect(await get(gateway, 'shared')).toBe(i === 0 ? null : `v${i - 1}`);
      const writer =
        i % 2 === 0
          ? () => run(other, ['SET', 'shared', `v${i}`])
          : () => redis.command('SET', 'shared', `v${i}`);
      await writer();
      const written = performance.now();
      await waitFor(
        async () => (await get(gateway, 'shared')) === `v${i}`,
        2_000,
        'the write was never seen',
      );
      worstMs = Math.max(worstMs, performance.now() - written);
    }
    console.log(`near cache: worst staleness after another client's write: ${worstMs.toFixed(1)} ms`);
    expect(worstMs).toBeLessThan(2_000);
  });

  it('expiry, EXPIRE, FLUSHDB, SWAPDB and deletes invalidate; no entry outlives its TTL', async () => {
    await redis.command('SET', 'ttl', 'v', 'PX', '300');
    expect(await get(gateway, 'ttl')).toBe('v');
    await new Promise((done) => setTimeout(done, 350));
    // Redis has not necessarily removed it yet; the gateway must not answer it past its TTL.
    expect(await get(gateway, 'ttl')).toBeNull();

    const cases: [string, () => Promise<unknown>][] = [
      ['EXPIRE', () => redis.command('PEXPIRE', 'x', '1')],
      ['DEL', () => redis.command('DEL', 'x')],
      ['FLUSHDB', () => redis.command('FLUSHDB')],
      ['SWAPDB through the gateway', () => run(gateway, ['SWAPDB', '0', '1'], TOKENS.admin)],
      ['a direct script', () => redis.command('EVAL', "return redis.call('DEL', KEYS[1])", '1', 'x')],
    ];
    for (const [name, change] of cases) {
      await redis.command('FLUSHALL');
      await redis.command('SET', 'x', 'cached');
      expect(await get(gateway, 'x'), name).toBe('cached');
      await change();
      await waitFor(async () => (await get(gateway, 'x')) === null, 2_000, `${name} did not invalidate`);
    }
  });

  it('a key evicted by maxmemory is invalidated', async () => {
    await redis.command('SET', 'evicted', 'cached');
    expect(await get(gateway, 'evicted')).toBe('cached');
    const used = Number(/used_memory:(\d+)/.exec(String(await redis.command('INFO', 'memory')))?.[1]);
    await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    await redis.command('CONFIG', 'SET', 'maxmemory', String(used + 2 * 1024 * 1024));
    try {
      const filler = 'f'.repeat(10_000);
      // EXISTS does not touch the key's LRU clock, so it does not keep the key alive.
      for (let i = 0; i < 100 && Number(await redis.command('EXISTS', 'evicted')) === 1; i++) {
        await redis.command(
          'MSET',
          ...Array.from({ length: 50 }, (_, j) => [`fill:${i}:${j}`, filler]).flat(),
        );
      }
      expect(Number(await redis.command('EXISTS', 'evicted'))).toBe(0);
      await waitFor(
        async () => (await get(gateway, 'evicted')) === null,
        2_000,
        'an evicted key was still served',
      );
    } finally {
      await redis.command('CONFIG', 'SET', 'maxmemory', '0');
      await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    }
  });

  it('a lost tracking connection clears the cache before it serves again', async () => {
    await redis.command('SET', 'lost', 'before');
    expect(await get(gateway, 'lost')).toBe('before');
    // Kill the invalidation connections (the only pub/sub clients), then write behind the gateways' backs.
    await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await redis.command('SET', 'lost', 'after');
    expect(await get(gateway, 'lost')).toBe('after');
    await waitFor(() => isLive(gateway), 5_000, 'tracking did not come back');
    expect(await get(gateway, 'lost')).toBe('after');
    const health = await (await gateway.request('/health')).json();
    expect(health.nearCache).toMatchObject({ tracking: 'live' });
  });

  it('keeps no shared entries for tokens with their own Redis user: they read as that user', async () => {
    await redis.command('SET', 'secret', 's3');
    expect(await get(gateway, 'secret')).toBe('s3');
    const denied = await run(gateway, ['GET', 'secret'], 'token-of-the-acl-reader-0123');
    expect(denied.error).toMatch(/NOPERM/);
  });

  it('1000 concurrent identical reads of a missing key send a handful of commands (near cache off too)', async () => {
    const env = { CACHEGATE_COMMAND_TIMEOUT_MS: '10000' };
    const targets = [await startGateway(redis.url, env), await startGateway(redis.url, { ...env, ...NEAR })];
    try {
      for (const target of targets) {
        await redis.command('CONFIG', 'RESETSTAT');
        // Redis is kept busy until all 1000 requests are in the gateway, however slowly this machine sends them.
        const busy = redis.command('EVAL', BUSY_SCRIPT, '0', '4000000');
        const storm = Promise.all(Array.from({ length: 1000 }, () => get(target, 'storm')));
        await waitFor(
          () => target.app.inFlight() >= 1000,
          3_500,
          'the storm did not arrive while Redis was busy',
        );
        const results = await storm;
        await busy;
        expect(results.every((value) => value === null)).toBe(true);
        expect(await callsOf('get')).toBeLessThanOrEqual(2);
      }
    } finally {
      await Promise.all(targets.map((target) => target.close()));
    }
  }, 30_000);

  it('the @upstash/redis SDK reads through it, auto-pipelined, and metrics count hits', async () => {
    const sdk = new Redis({ url: gateway.url, token: TOKENS.write, enableTelemetry: false, retry: false });
    await sdk.set('sdk', { n: 1 });
    for (let i = 0; i < 3; i++)
      expect(await Promise.all([sdk.get('sdk'), sdk.get('sdk')])).toEqual([{ n: 1 }, { n: 1 }]);
    await sdk.set('sdk', { n: 2 });
    expect(await sdk.get('sdk')).toEqual({ n: 2 });
    const metrics = await (await gateway.request('/metrics', { token: TOKENS.admin })).text();
    expect(Number(/^cachegate_near_cache_hits_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^cachegate_near_cache_tracking_live 1$/m);
  });
});

describe('near cache prefixes', () => {
  it('keeps only keys under CACHEGATE_NEAR_CACHE_PREFIXES', async () => {
    const prefixed = await startGateway(redis.url, { ...NEAR, CACHEGATE_NEAR_CACHE_PREFIXES: 'config:' });
    try {
      await waitFor(() => isLive(prefixed), 10_000, 'tracking never went live');
      await redis.command('SET', 'config:a', '1');
      await redis.command('SET', 'user:a', '1');
      await redis.command('CONFIG', 'RESETSTAT');
      for (let i = 0; i < 3; i++) {
        await get(prefixed, 'config:a');
        await get(prefixed, 'user:a');
      }
      expect(await callsOf('get')).toBe(1 + 3);
    } finally {
      await prefixed.close();
    }
  });
});
