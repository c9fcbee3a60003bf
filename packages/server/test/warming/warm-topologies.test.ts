import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nearCachesOf } from '../../src/redis/backend.js';
import { runCli } from '../helpers/cli.js';
import { startGateway, type TestGateway, TOKENS } from '../helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import {
  nodeCommand,
  startTestCluster,
  startTestSentinel,
  type TestCluster,
  type TestSentinel,
} from '../helpers/topologies.js';

const ENTRIES = 300;
let dir: string;
let file: string;
let source: TestRedis;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cachegate-warm-topologies-'));
  file = join(dir, 'entries.ndjson');
  const lines = Array.from({ length: ENTRIES }, (_, i) =>
    JSON.stringify({ key: `e:${i}`, value: { i }, ttl: 600 }),
  );
  writeFileSync(file, `${lines.join('\n')}\n`);
  source = await startTestRedis();
  await source.command('HSET', 'h:1', 'f', 'v');
  await source.command('SET', 's:1', 'v', 'EX', '600');
  await source.command('RPUSH', 'l:1', 'a', 'b');
});
afterAll(async () => {
  await source?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Reads every entry back through a gateway: each value as the file gave it. */
async function expectEntries(gateway: TestGateway) {
  const keys = Array.from({ length: ENTRIES }, (_, i) => `e:${i}`);
  // One request per key: in Cluster mode MGET across slots is a CROSSSLOT error.
  const response = await gateway.request('/pipeline', {
    method: 'POST',
    body: JSON.stringify(keys.map((key) => ['GET', key])),
  });
  const results = (await response.json()) as { result: string }[];
  expect(results.map((r, i) => JSON.parse(r.result).i === i).every(Boolean)).toBe(true);
}

describe('warm into a Redis Cluster', () => {
  let cluster: TestCluster;
  let gateway: TestGateway;
  beforeAll(async () => {
    cluster = await startTestCluster(3, 0);
    gateway = await startGateway('redis://unused', {
      CACHEGATE_REDIS_URL: '',
      CACHEGATE_REDIS_CLUSTER_NODES: cluster.seeds,
    });
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await cluster?.stop();
  });

  it('directly (--redis-cluster-nodes): every entry on the master of its slot', async () => {
    await cluster.flushAll();
    const result = await runCli(['warm', '--from', file, '--redis-cluster-nodes', cluster.seeds]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`${ENTRIES} loaded`);
    let total = 0;
    for (const port of await cluster.masterPorts()) {
      const size = Number(await nodeCommand(port, 'DBSIZE'));
      expect(size).toBeGreaterThan(0);
      total += size;
    }
    expect(total).toBe(ENTRIES);
    await expectEntries(gateway);
  });

  it('through a gateway in front of it (--url), and from another Redis with every type', async () => {
    await cluster.flushAll();
    const viaGateway = await runCli(['warm', '--from', file, '--url', gateway.url, '--token', TOKENS.write]);
    expect(viaGateway.status).toBe(0);
    await expectEntries(gateway);
    const copied = await runCli(['warm', '--from', source.url, '--redis-cluster-nodes', cluster.seeds]);
    expect(copied.status).toBe(0);
    expect(copied.stdout).toContain('3 loaded');
    const read = await gateway.request('/pipeline', {
      method: 'POST',
      body: JSON.stringify([
        ['HGET', 'h:1', 'f'],
        ['TTL', 's:1'],
        ['LRANGE', 'l:1', '0', '-1'],
      ]),
    });
    const [hash, ttl, list] = await read.json();
    expect(hash.result).toBe('v');
    expect(ttl.result).toBeGreaterThan(590);
    expect(list.result).toEqual(['a', 'b']);
  });

  it('saves the hot set there and starts the next gateway’s near cache warm', async () => {
    await cluster.flushAll();
    await runCli(['warm', '--from', file, '--redis-cluster-nodes', cluster.seeds]);
    const first = await startGateway('redis://unused', {
      CACHEGATE_REDIS_URL: '',
      CACHEGATE_REDIS_CLUSTER_NODES: cluster.seeds,
    });
    for (let i = 0; i < 50; i++) await first.request(`/get/e:${i}`);
    await first.close();
    const { buildApp } = await import('../../src/app.js');
    const { testConfig } = await import('../helpers/gateway.js');
    const pino = (await import('pino')).default;
    const next = await buildApp(
      testConfig('redis://unused', {
        CACHEGATE_REDIS_URL: '',
        CACHEGATE_REDIS_CLUSTER_NODES: cluster.seeds,
        CACHEGATE_NEAR_CACHE: 'on',
      }),
      { logger: pino({ level: 'silent' }) },
    );
    try {
      const report = await next.warmStart();
      expect(report).toMatchObject({ saved: 50, read: 50 });
      const entries = nearCachesOf(next.backend).reduce((sum, cache) => sum + cache.store.size, 0);
      expect(entries).toBe(50);
      // Spread over the masters: each caches the reads of its own slots.
      expect(nearCachesOf(next.backend).filter((cache) => cache.store.size > 0).length).toBeGreaterThan(1);
    } finally {
      await next.close();
    }
  });
});

describe('warm into Redis behind Sentinel', () => {
  let sentinel: TestSentinel;
  let gateway: TestGateway;
  beforeAll(async () => {
    sentinel = await startTestSentinel();
    gateway = await startGateway('redis://unused', {
      CACHEGATE_REDIS_URL: '',
      CACHEGATE_REDIS_SENTINELS: sentinel.seeds,
      CACHEGATE_REDIS_SENTINEL_MASTER: sentinel.masterName,
    });
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await sentinel?.stop();
  });

  it('directly (--redis-sentinels): onto the current master', async () => {
    const result = await runCli([
      'warm',
      '--from',
      file,
      '--redis-sentinels',
      sentinel.seeds,
      '--redis-sentinel-master',
      sentinel.masterName,
    ]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(Number(await nodeCommand(await sentinel.masterPort(), 'DBSIZE'))).toBe(ENTRIES);
    await expectEntries(gateway);
  });

  it('through a gateway in front of it (--url), only what is missing', async () => {
    await nodeCommand(await sentinel.masterPort(), 'FLUSHALL');
    await nodeCommand(await sentinel.masterPort(), 'SET', 'e:0', '{"i":0,"kept":true}');
    const result = await runCli([
      'warm',
      '--from',
      file,
      '--only-missing',
      '--url',
      gateway.url,
      '--token',
      TOKENS.write,
    ]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`${ENTRIES - 1} loaded, 1 skipped`);
    expect(await nodeCommand(await sentinel.masterPort(), 'GET', 'e:0')).toBe('{"i":0,"kept":true}');
  });
});
