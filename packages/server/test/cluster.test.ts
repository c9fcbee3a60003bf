import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nearCachesOf } from '../src/redis/backend.js';
import { startGateway, type TestGateway, TOKENS, waitFor } from './helpers/gateway.js';
import { nodeCommand, startTestCluster, type TestCluster } from './helpers/topologies.js';

let cluster: TestCluster;
let gateway: TestGateway;

beforeAll(async () => {
  cluster = await startTestCluster(3, 1);
  gateway = await startGateway('redis://unused', {
    CACHEGATE_REDIS_URL: '',
    CACHEGATE_REDIS_CLUSTER_NODES: cluster.seeds,
    CACHEGATE_COMMAND_TIMEOUT_MS: '1000',
  });
}, 60_000);
afterAll(async () => {
  await gateway?.close();
  await cluster?.stop();
});
beforeEach(async () => {
  await cluster.flushAll();
});

const run = async (command: unknown[], token: string = TOKENS.write) => {
  const response = await gateway.request('/', { method: 'POST', body: JSON.stringify(command), token });
  return { status: response.status, body: await response.json() };
};
const post = async (path: string, body: unknown, token: string = TOKENS.write) => {
  const response = await gateway.request(path, { method: 'POST', body: JSON.stringify(body), token });
  return { status: response.status, body: await response.json() };
};

/** Keys that land on different masters. */
async function keysOnDifferentMasters(): Promise<string[]> {
  const byMaster = new Map<number, string>();
  for (let i = 0; byMaster.size < 3 && i < 1000; i++) {
    const key = `key:${i}`;
    const port = await cluster.masterPortOf(key);
    if (!byMaster.has(port)) byMaster.set(port, key);
  }
  return [...byMaster.values()];
}

/**
 * Moves the slot of `key` from its master to another one, the steps of redis-cli --cluster reshard by
 * hand, with a pause between them so traffic meets every intermediate state (ASK, then MOVED).
 */
async function planMigration(key: string) {
  const source = await cluster.masterPortOf(key);
  const target = (await cluster.masterPorts()).find((port) => port !== source) as number;
  const slot = String(await nodeCommand(source, 'CLUSTER', 'KEYSLOT', key));
  const idOf = async (port: number) => String(await nodeCommand(port, 'CLUSTER', 'MYID'));
  const [sourceId, targetId] = [await idOf(source), await idOf(target)];
  const pause = () => new Promise((done) => setTimeout(done, 100));
  return {
    target,
    async run() {
      await nodeCommand(target, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId);
      await nodeCommand(source, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId);
      await pause();
      await nodeCommand(source, 'MIGRATE', '127.0.0.1', String(target), '', '0', '5000', 'KEYS', key);
      await pause();
      for (const port of [target, source])
        await nodeCommand(port, 'CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
    },
  };
}

describe('Cluster mode', () => {
  it('routes commands on keys in different slots to their masters', async () => {
    const keys = await keysOnDifferentMasters();
    expect(keys).toHaveLength(3);
    for (const key of keys)
      expect((await run(['SET', key, `value of ${key}`])).body).toEqual({ result: 'OK' });
    for (const key of keys) {
      expect((await run(['GET', key])).body).toEqual({ result: `value of ${key}` });
      expect(await nodeCommand(await cluster.masterPortOf(key), 'GET', key)).toBe(`value of ${key}`);
    }
  });

  it('routes arbitrary commands by the key specs: scripts, streams, sorted sets, cache API', async () => {
    const [a, b] = await keysOnDifferentMasters();
    expect(
      (await run(['EVAL', "return redis.call('SET', KEYS[1], ARGV[1])", 1, a as string, 'x'])).body,
    ).toEqual({ result: 'OK' });
    expect((await run(['XADD', b as string, '*', 'f', 'v'])).status).toBe(200);
    expect((await run(['ZADD', a as string, '1', 'm'])).status).toBe(400); // WRONGTYPE: it is a string now
    const put = await gateway.request(`/v1/cache/${b}x`, { method: 'PUT', body: '{"value":{"n":1}}' });
    expect(put.status).toBe(200);
    expect((await (await gateway.request(`/v1/cache/${b}x`)).json()).value).toEqual({ n: 1 });
  });

  it('splits a /pipeline across slots and answers in request order', async () => {
    const keys = await keysOnDifferentMasters();
    const commands = keys.flatMap((key, i) => [
      ['SET', key, String(i)],
      ['INCR', key],
      ['GET', key],
    ]);
    const { status, body } = await post('/pipeline', commands);
    expect(status).toBe(200);
    expect(body).toEqual(
      keys.flatMap((_, i) => [{ result: 'OK' }, { result: i + 1 }, { result: String(i + 1) }]),
    );
  });

  it("answers a multi-key command across slots with Redis's CROSSSLOT error as a 400", async () => {
    const [a, b] = await keysOnDifferentMasters();
    const { status, body } = await run(['MSET', a as string, '1', b as string, '2']);
    expect(status).toBe(400);
    expect(body.error).toMatch(/^CROSSSLOT/);
    expect((await run(['MSET', '{user:1}:a', '1', '{user:1}:b', '2'])).body).toEqual({ result: 'OK' });
    expect((await run(['MGET', '{user:1}:a', '{user:1}:b'])).body).toEqual({ result: ['1', '2'] });
  });

  it('runs /multi-exec within one slot, and refuses one spanning slots with a clear 400', async () => {
    const ok = await post('/multi-exec', [
      ['SET', '{tx}:a', '1'],
      ['INCR', '{tx}:a'],
      ['GET', '{tx}:a'],
    ]);
    expect(ok.body).toEqual([{ result: 'OK' }, { result: 2 }, { result: '2' }]);
    const [a, b] = await keysOnDifferentMasters();
    const spanning = await post('/multi-exec', [
      ['SET', a, '1'],
      ['SET', b, '1'],
    ]);
    expect(spanning.status).toBe(400);
    expect(spanning.body.error).toMatch(/CROSSSLOT.*hash tag/);
    expect((await run(['EXISTS', a as string])).body).toEqual({ result: 0 });
  });

  it('aggregates fan-out commands across masters: DBSIZE, KEYS, SCAN, FLUSHALL', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `fan:${i}`);
    await post(
      '/pipeline',
      keys.map((key) => ['SET', key, 'v']),
    );
    expect((await run(['DBSIZE'])).body).toEqual({ result: 30 });
    const listed = (await run(['KEYS', 'fan:*'], TOKENS.admin)).body.result as string[];
    expect(listed.sort()).toEqual([...keys].sort());
    const scanned = new Set<string>();
    let cursor = '0';
    let calls = 0;
    do {
      const { body } = await run(['SCAN', cursor, 'MATCH', 'fan:*', 'COUNT', '5']);
      cursor = body.result[0];
      for (const key of body.result[1]) scanned.add(key);
      calls++;
    } while (cursor !== '0' && calls < 100);
    expect([...scanned].sort()).toEqual([...keys].sort());
    expect((await run(['RANDOMKEY'])).body.result).toMatch(/^fan:/);
    expect((await run(['FLUSHALL'], TOKENS.admin)).body).toEqual({ result: 'OK' });
    expect((await run(['DBSIZE'])).body).toEqual({ result: 0 });
  });

  it('loads scripts on every master, so EVALSHA works whatever the key', async () => {
    const sha = (await run(['SCRIPT', 'LOAD', 'return KEYS[1]'])).body.result;
    for (const key of await keysOnDifferentMasters()) {
      expect((await run(['EVALSHA', sha, '1', key])).body).toEqual({ result: key });
    }
    expect((await run(['SCRIPT', 'EXISTS', sha, 'ffffffffffffffffffffffffffffffffffffffff'])).body).toEqual({
      result: [1, 0],
    });
  });

  it('follows a slot migrated while traffic runs, answering every request correctly', async () => {
    const key = 'migrating:key';
    await run(['SET', key, '0']);
    const migration = await planMigration(key);

    let running = true;
    let count = 0;
    const failures: unknown[] = [];
    const traffic = (async () => {
      while (running) {
        const { status, body } = await run(['INCR', key]);
        if (status === 200 && body.result === count + 1) count++;
        else failures.push(body);
      }
    })();
    await new Promise((done) => setTimeout(done, 100));
    await migration.run();
    await new Promise((done) => setTimeout(done, 200));
    running = false;
    await traffic;

    expect(failures).toEqual([]);
    expect(count).toBeGreaterThan(10);
    expect(await cluster.masterPortOf(key)).toBe(migration.target);
    expect(Number(await nodeCommand(migration.target, 'GET', key))).toBe(count);
    expect((await run(['GET', key])).body).toEqual({ result: String(count) });
  });

  it('recovers without a restart when a master dies and its replica is promoted', async () => {
    const key = 'failover:key';
    await run(['SET', key, 'before']);
    await cluster.waitForReplication();
    const port = await cluster.masterPortOf(key);
    const victim = cluster.nodes.find((node) => node.port === port);
    await victim?.kill();

    const started = Date.now();
    const statuses = new Set<number>();
    await waitFor(
      async () => {
        const began = performance.now();
        const { status, body } = await run(['GET', key]);
        statuses.add(status);
        // No request hangs: each answers within twice the command timeout.
        expect(performance.now() - began).toBeLessThan(2_000);
        return status === 200 && body.result === 'before';
      },
      20_000,
      'the gateway never reached the promoted replica',
    );
    expect([...statuses].every((s) => s === 200 || s === 503)).toBe(true);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await run(['SET', key, 'after'])).body).toEqual({ result: 'OK' });
    expect((await gateway.request('/readyz', { token: null })).status).toBe(200);
  });
});

describe('Cluster mode with the near cache', () => {
  let near: TestGateway;
  beforeAll(async () => {
    near = await startGateway('redis://unused', {
      CACHEGATE_REDIS_URL: '',
      CACHEGATE_REDIS_CLUSTER_NODES: cluster.seeds,
      CACHEGATE_NEAR_CACHE: 'on',
    });
    await waitFor(
      () =>
        nearCachesOf(near.app.backend).length === 3 && nearCachesOf(near.app.backend).every((c) => c.isLive),
      10_000,
      'tracking never went live on every master',
    );
  });
  afterAll(() => near?.close());
  const nearRun = async (command: unknown[]) =>
    (await near.request('/', { method: 'POST', body: JSON.stringify(command) })).json();
  const getCalls = async (port: number) =>
    Number(/cmdstat_get:calls=(\d+)/.exec(String(await nodeCommand(port, 'INFO', 'commandstats')))?.[1] ?? 0);

  it("keeps each master's reads, invalidated by that master", async () => {
    const keys = await keysOnDifferentMasters();
    for (const port of await cluster.masterPorts()) await nodeCommand(port, 'CONFIG', 'RESETSTAT');
    for (const key of keys) await nodeCommand(await cluster.masterPortOf(key), 'SET', key, 'one');
    for (let i = 0; i < 3; i++)
      for (const key of keys) expect(await nearRun(['GET', key])).toEqual({ result: 'one' });
    for (const key of keys) expect(await getCalls(await cluster.masterPortOf(key))).toBe(1);
    for (const key of keys) {
      await nodeCommand(await cluster.masterPortOf(key), 'SET', key, 'two');
      await waitFor(async () => (await nearRun(['GET', key])).result === 'two', 2_000, `${key} stayed stale`);
    }
  });

  it('a slot migrated while it is read and written: every read sees the latest write', async () => {
    const key = 'near:migrating';
    await nearRun(['SET', key, '0']);
    const migration = await planMigration(key);
    let running = true;
    let count = 0;
    const stale: unknown[] = [];
    const traffic = (async () => {
      while (running) {
        const written = await nearRun(['INCR', key]);
        if (written.result !== count + 1) stale.push({ written });
        else count++;
        const read = await nearRun(['GET', key]);
        if (read.result !== String(count)) stale.push({ read, count });
      }
    })();
    await new Promise((done) => setTimeout(done, 100));
    await migration.run();
    await new Promise((done) => setTimeout(done, 200));
    running = false;
    await traffic;
    expect(stale).toEqual([]);
    expect(count).toBeGreaterThan(10);
    // A write on the new owner, behind the gateway's back, reaches its reads too.
    await nodeCommand(migration.target, 'SET', key, 'direct');
    await waitFor(
      async () => (await nearRun(['GET', key])).result === 'direct',
      2_000,
      'stale after migration',
    );
  });
});

describe('budgets on a cluster (issue 21, class 1)', () => {
  it('drops replies that cost too much on every master, fanned out or not, and gives back what it held', async () => {
    const keys = await keysOnDifferentMasters();
    // 200,000 one-byte items per list: 1.4 MB on the wire, 14 MB of values counted at 64 bytes each.
    const fill =
      "local t = {} for i = 1, 4000 do t[i] = 'x' end for i = 1, 50 do redis.call('RPUSH', KEYS[1], unpack(t)) end";
    for (const key of keys) expect((await run(['EVAL', fill, '1', key])).status).toBe(200);
    const capped = await startGateway('redis://unused', {
      CACHEGATE_REDIS_URL: '',
      CACHEGATE_REDIS_CLUSTER_NODES: cluster.seeds,
      CACHEGATE_MAX_REPLY_BYTES: String(8 * 1024 * 1024),
    });
    try {
      const response = await capped.request('/pipeline', {
        method: 'POST',
        token: TOKENS.read,
        body: JSON.stringify([
          ...keys.map((key) => ['LRANGE', key, '0', '-1']),
          ['DBSIZE'],
          ['GET', 'nothing'],
        ]),
      });
      const items = await response.json();
      for (const item of items.slice(0, keys.length))
        expect(item.error).toContain('CACHEGATE_MAX_REPLY_BYTES');
      expect(items.slice(keys.length)).toEqual([{ result: 3 }, { result: null }]);
      const gauges = capped.app.gauges();
      expect([gauges.inFlight, gauges.answerBytesHeld, gauges.bodyBytesReserved]).toEqual([0, 0, 0]);
    } finally {
      await capped.close();
    }
  });
});
