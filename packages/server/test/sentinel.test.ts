import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nearCachesOf } from '../src/redis/backend.js';
import { startGateway, type TestGateway, waitFor } from './helpers/gateway.js';
import { nodeCommand, startTestSentinel, type TestSentinel } from './helpers/topologies.js';

const COMMAND_TIMEOUT_MS = 1000;
let sentinel: TestSentinel;
let gateway: TestGateway;

beforeAll(async () => {
  sentinel = await startTestSentinel();
  gateway = await startGateway('redis://unused', {
    CACHEGATE_REDIS_URL: '',
    CACHEGATE_REDIS_SENTINELS: sentinel.seeds,
    CACHEGATE_REDIS_SENTINEL_MASTER: sentinel.masterName,
    CACHEGATE_WRITE_REPLICAS: '1',
    CACHEGATE_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
  });
}, 60_000);
afterAll(async () => {
  await gateway?.close();
  await sentinel?.stop();
});

const run = async (command: unknown[]) => {
  const response = await gateway.request('/', { method: 'POST', body: JSON.stringify(command) });
  return { status: response.status, body: await response.json() };
};

describe('Sentinel mode', () => {
  it('drops a reply that costs too much, and gives back what it held (issue 21, class 1)', async () => {
    const fill =
      "local t = {} for i = 1, 4000 do t[i] = 'x' end for i = 1, 100 do redis.call('RPUSH', KEYS[1], unpack(t)) end";
    expect((await run(['EVAL', fill, '1', 'tiny-items'])).status).toBe(200);
    const answer = await run(['LRANGE', 'tiny-items', '0', '-1']);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toContain('counting 64 bytes per value');
    expect((await run(['LLEN', 'tiny-items'])).body).toEqual({ result: 400_000 });
    const gauges = gateway.app.gauges();
    expect([gauges.inFlight, gauges.answerBytesHeld]).toEqual([0, 0]);
    await run(['DEL', 'tiny-items']);
  });

  it('talks to the master Sentinel names', async () => {
    expect((await run(['SET', 'where', 'master'])).body).toEqual({ result: 'OK' });
    expect(await nodeCommand(sentinel.master.port, 'GET', 'where')).toBe('master');
    expect((await run(['GET', 'where'])).body).toEqual({ result: 'master' });
  });

  it('keeps a near cache of the master, invalidated by writes to it', async () => {
    const near = await startGateway('redis://unused', {
      CACHEGATE_REDIS_URL: '',
      CACHEGATE_REDIS_SENTINELS: sentinel.seeds,
      CACHEGATE_REDIS_SENTINEL_MASTER: sentinel.masterName,
      CACHEGATE_NEAR_CACHE: 'on',
    });
    try {
      const get = async () =>
        (await (await near.request('/', { method: 'POST', body: '["GET","near"]' })).json()).result;
      await waitFor(
        () => nearCachesOf(near.app.backend)[0]?.isLive === true,
        10_000,
        'tracking never went live',
      );
      const master = await sentinel.masterPort();
      await nodeCommand(master, 'SET', 'near', 'one');
      await nodeCommand(master, 'CONFIG', 'RESETSTAT');
      for (let i = 0; i < 3; i++) expect(await get()).toBe('one');
      const stats = String(await nodeCommand(master, 'INFO', 'commandstats'));
      expect(Number(/cmdstat_get:calls=(\d+)/.exec(stats)?.[1])).toBe(1);
      await nodeCommand(master, 'SET', 'near', 'two');
      await waitFor(async () => (await get()) === 'two', 2_000, 'the cached value stayed stale');
    } finally {
      await near.close();
    }
  });

  it('follows a failover during a write loop: no request hangs and every acknowledged write survives', {
    timeout: 90_000,
  }, async () => {
    const acknowledged: number[] = [];
    const statuses = new Map<number, number>();
    let slowest = 0;
    let killed = false;
    let restarted = false;
    let successesAfterKill = 0;
    const oldMaster = sentinel.master.port;
    for (let i = 0; successesAfterKill < 20; i++) {
      if (i === 30) {
        await sentinel.master.kill();
        killed = true;
      }
      // With CACHEGATE_WRITE_REPLICAS=1 the new master needs a replica before writes succeed again: the old
      // master comes back, as a crashed server would, and Sentinel makes it one.
      if (killed && !restarted && (await sentinel.masterPort()) !== oldMaster) {
        await sentinel.restartMaster();
        restarted = true;
      }
      const started = performance.now();
      const { status, body } = await run(['SET', `write:${i}`, String(i)]);
      slowest = Math.max(slowest, performance.now() - started);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 200) {
        expect(body).toEqual({ result: 'OK' });
        acknowledged.push(i);
        if (killed) successesAfterKill++;
      } else {
        expect(status).toBe(503);
        await new Promise((done) => setTimeout(done, 50));
      }
      if (i > 2000) throw new Error(`no failover after ${i} writes: ${JSON.stringify([...statuses])}`);
    }
    expect(slowest).toBeLessThan(2 * COMMAND_TIMEOUT_MS);
    expect(statuses.get(503)).toBeGreaterThan(0);
    // Normally the replica; on a starved machine Sentinel may fail over once more, back to the restarted
    // original (a replica by then, holding every write): either way the gateway must follow and lose nothing.
    const newMaster = await sentinel.masterPort();
    expect([sentinel.replica.port, oldMaster]).toContain(newMaster);

    const keys = acknowledged.map((i) => `write:${i}`);
    const values = (await run(['MGET', ...keys])).body.result as (string | null)[];
    const missing = acknowledged.filter((i, n) => values[n] !== String(i));
    expect(missing).toEqual([]);
    expect(await nodeCommand(newMaster, 'DBSIZE')).toBeGreaterThanOrEqual(acknowledged.length);
    await waitFor(
      async () => (await gateway.request('/readyz', { token: null })).status === 200,
      5_000,
      'not ready',
    );
    // ACLs are not replicated: the gateway created its scope users on the promoted master too.
    const script = await run(['EVAL', "return redis.call('FLUSHALL')", '0']);
    expect(script.status).toBe(400);
    expect(script.body.error).toMatch(/can't run this command/);
    expect(await nodeCommand(newMaster, 'DBSIZE')).toBeGreaterThanOrEqual(acknowledged.length);
  });
});
