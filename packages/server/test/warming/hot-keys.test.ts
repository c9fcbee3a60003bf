import { get as httpGet } from 'node:http';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnReadyGateway, startGateway, type TestGateway, TOKENS } from '../helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { withRedisAndGateway } from '../helpers/setup.js';

let redis: TestRedis;
let gateway: TestGateway;
withRedisAndGateway((started) => ({ redis, gateway } = started));

const get = (key: string) => gateway.request(`/get/${encodeURIComponent(key)}`);
const hotKeys = (query = '', token: string | null = TOKENS.admin) =>
  gateway.request(`/v1/admin/hot-keys${query}`, { token });

describe('GET /v1/admin/hot-keys', () => {
  beforeEach(async () => {
    // Each test starts from an empty sketch: a fresh gateway on the same Redis.
    await gateway.close();
    gateway = await startGateway(redis.url);
  });

  it('lists the keys read most, most read first, with their values and TTLs as the cache API shows them', async () => {
    await redis.command('SET', 'often', '{"n":1}', 'EX', '300');
    await redis.command('SET', 'sometimes', '"text"');
    await redis.command('SET', 'once', '42');
    await redis.command('HSET', 'hash', 'f', 'v');
    for (let i = 0; i < 10; i++) await get('often');
    for (let i = 0; i < 5; i++) await get('sometimes');
    await get('once');
    for (let i = 0; i < 3; i++) await gateway.request('/', { method: 'POST', body: '["HGET","hash","f"]' });
    const response = await hotKeys();
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.database).toBe('default');
    expect(body.processes).toBe(1);
    expect(body.entries.map((e: { key: string }) => e.key)).toEqual(['often', 'sometimes', 'hash', 'once']);
    expect(body.entries[0]).toMatchObject({ key: 'often', reads: 10, type: 'string', value: { n: 1 } });
    expect(body.entries[0].ttl).toBeGreaterThan(290);
    expect(body.entries[1]).toMatchObject({ key: 'sometimes', reads: 5, value: 'text', ttl: null });
    expect(body.entries[2]).toEqual({ key: 'hash', reads: 3, type: 'hash' });
    expect(body.entries[3]).toMatchObject({ key: 'once', value: 42 });
  });

  it('counts reads that found something, not writes and not misses; MGET counts each key it found', async () => {
    for (let i = 0; i < 5; i++)
      await gateway.request('/', { method: 'POST', body: `["SET","written","${i}"]` });
    for (let i = 0; i < 5; i++) await get('missing');
    await redis.command('SET', 'a', '1');
    await redis.command('SET', 'b', '2');
    await gateway.request('/', { method: 'POST', body: '["MGET","a","nothing","b"]' });
    await gateway.request('/', { method: 'POST', body: '["MGET","b"]' });
    const body = await (await hotKeys()).json();
    expect(body.entries.map((e: { key: string; reads: number }) => [e.key, e.reads])).toEqual([
      ['b', 2],
      ['a', 1],
    ]);
  });

  it('answers with at most ?limit entries, and refuses a limit past CACHEGATE_HOT_KEYS', async () => {
    for (const key of ['x', 'y', 'z']) {
      await redis.command('SET', key, '1');
      await get(key);
    }
    expect((await (await hotKeys('?limit=2')).json()).entries).toHaveLength(2);
    const refused = await hotKeys('?limit=1001');
    expect(refused.status).toBe(400);
    expect((await refused.json()).error.code).toBe('CG_ERR_REQUEST_INVALID');
    expect((await hotKeys('?limit=abc')).status).toBe(400);
  });

  it('is for admin tokens only', async () => {
    const write = await hotKeys('', TOKENS.write);
    expect(write.status).toBe(403);
    expect((await write.json()).error.code).toBe('CG_ERR_COMMAND_DENIED');
    expect((await hotKeys('', TOKENS.read)).status).toBe(403);
    expect((await hotKeys('', null)).status).toBe(401);
    expect((await hotKeys('', TOKENS.admin)).status).toBe(200);
  });
});

describe('with the hot set off (CACHEGATE_HOT_KEYS=0)', () => {
  it('answers 404 and follows nothing', async () => {
    const off = await startGateway(redis.url, { CACHEGATE_HOT_KEYS: '0' });
    try {
      const response = await off.request('/v1/admin/hot-keys', { token: TOKENS.admin });
      expect(response.status).toBe(404);
      expect((await response.json()).error.message).toContain('CACHEGATE_HOT_KEYS=0');
    } finally {
      await off.close();
    }
  });
});

describe('with CACHEGATE_WORKERS=2', () => {
  let separate: TestRedis | undefined;
  afterAll(() => separate?.stop());

  it('sums the reads every worker served', async () => {
    separate = await startTestRedis();
    await separate.command('SET', 'shared', '"v"');
    const gatewayProcess = await spawnReadyGateway({
      CACHEGATE_REDIS_URL: separate.url,
      CACHEGATE_TOKEN: TOKENS.write,
      CACHEGATE_ADMIN_TOKEN: TOKENS.admin,
      CACHEGATE_WORKERS: '2',
      CACHEGATE_MAX_EVENT_LOOP_DELAY_MS: '0',
    });
    try {
      // A new connection per request: node:cluster hands connections to the workers in turn.
      const reads = 40;
      for (let i = 0; i < reads; i++) {
        await new Promise<void>((done, fail) => {
          httpGet(
            `${gatewayProcess.base}/get/shared`,
            { agent: false, headers: { authorization: `Bearer ${TOKENS.write}` } },
            (response) => response.resume().on('end', done),
          ).on('error', fail);
        });
      }
      const body = (await (
        await fetch(`${gatewayProcess.base}/v1/admin/hot-keys`, {
          headers: { authorization: `Bearer ${TOKENS.admin}` },
        })
      ).json()) as { processes: number; entries: { key: string; reads: number }[] };
      expect(body.processes).toBe(2);
      // The route's own reads (TYPE, GET, TTL) count on the worker that served it: at most 3 more.
      const [top] = body.entries;
      expect(top?.key).toBe('shared');
      expect(top?.reads).toBeGreaterThanOrEqual(reads);
      expect(top?.reads).toBeLessThanOrEqual(reads + 3);
    } finally {
      gatewayProcess.child.kill('SIGTERM');
      await gatewayProcess.exited;
    }
  }, 60_000);
});
