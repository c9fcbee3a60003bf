import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nearCachesOf } from '../src/redis/backend.js';
import type { NodeStatus } from '../src/redis/topology/shard.js';
import { startFaultProxy } from './helpers/fault-proxy.js';
import { startGateway, type TestGateway, TOKENS, waitFor } from './helpers/gateway.js';
import { nodeCommand, startTestReplicaSet, type TestReplicaSet } from './helpers/topologies.js';

// Issue 25: reads on replicas of a standalone Redis (CACHEGATE_REDIS_REPLICAS), read-your-writes through the
// sync token, and replicas that lag, stop or die. Each replica follows the primary through a proxy that can
// hold its replication back while it stays connected.
let set: TestReplicaSet;
/** Token reads must rely on offsets: its lag bound is far, so held replicas stay in use for reads without one. */
let gateway: TestGateway;

beforeAll(async () => {
  set = await startTestReplicaSet(2);
  gateway = await startGateway(set.primary.url, {
    CACHEGATE_READ_FROM: 'replicas',
    CACHEGATE_REDIS_REPLICAS: set.addresses,
    CACHEGATE_REPLICA_MAX_LAG_MS: '60000',
  });
  await waitForUsable(gateway, 2);
}, 60_000);
afterAll(async () => {
  await gateway?.close();
  await set?.stop();
});
beforeEach(async () => {
  for (const replica of set.replicas) replica.proxy.release();
  await set.primary.command('FLUSHALL');
  await set.waitForReplicas();
});

/** Waits until `count` replicas take reads. */
async function waitForUsable(target: TestGateway, count: number) {
  await waitFor(
    () => replicasOf(target).filter((node) => node.isUp).length === count,
    10_000,
    `${count} replicas never took reads`,
  );
}

function replicasOf(target: TestGateway): NodeStatus[] {
  return target.app.backend.nodes().filter((node) => node.role === 'replica');
}

/** Read-only batches each role took so far. */
function readsBy(target: TestGateway): { primary: number; replica: number } {
  const reads = { primary: 0, replica: 0 };
  for (const node of target.app.backend.nodes()) reads[node.role] += node.reads;
  return reads;
}

const sdk = (target: TestGateway, readYourWrites = true) =>
  new Redis({ url: target.url, token: TOKENS.write, enableTelemetry: false, readYourWrites });

async function calls(port: number, command: string): Promise<number> {
  const stats = String(await nodeCommand(port, 'INFO', 'commandstats'));
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
}

describe('reads on replicas (CACHEGATE_READ_FROM=replicas)', () => {
  it('sends read-only commands to the replicas and everything else to the primary', async () => {
    const client = sdk(gateway, false);
    await client.set('k', 'v');
    await set.waitForReplicas();
    const ports = [set.primary.port, ...set.replicas.map((replica) => replica.server.port)];
    for (const port of ports) await nodeCommand(port, 'CONFIG', 'RESETSTAT');
    for (let i = 0; i < 20; i++) expect(await client.get('k')).toBe('v');
    expect(await client.evalRo("return redis.call('GET', KEYS[1])", ['k'], [])).toBe('v');
    await client.multi().set('k', 'w').get('k').exec();
    await client.eval("return redis.call('SET', KEYS[1], 'x')", ['k'], []);
    const [primary, ...replicas] = ports;
    expect(await calls(primary as number, 'get')).toBe(1); // the GET inside the transaction
    let replicaGets = 0;
    let replicaScripts = 0;
    for (const port of replicas) {
      replicaGets += await calls(port, 'get');
      replicaScripts += await calls(port, 'eval_ro');
    }
    // The 20 GETs, and the one inside the read-only script, which a replica ran too.
    expect(replicaGets).toBe(21);
    expect(replicaScripts).toBe(1);
    // Both replicas take turns.
    for (const port of replicas) expect(await calls(port, 'get')).toBeGreaterThan(0);
    // The transaction's SET and the script's.
    expect(await calls(primary as number, 'set')).toBe(2);
    expect(await calls(primary as number, 'exec')).toBe(1);
    expect(await calls(primary as number, 'eval')).toBe(1);
    // Replicas need the scope users too: ACLs are per node and not replicated.
    for (const port of replicas)
      expect(String(await nodeCommand(port, 'ACL', 'USERS'))).toContain('cachegate-read');
  });

  it('0 stale reads in 1,000 write-then-read rounds through @upstash/redis, replication held back at times', {
    timeout: 120_000,
  }, async () => {
    const client = sdk(gateway);
    const before = readsBy(gateway);
    let stale = 0;
    for (let round = 0; round < 1000; round++) {
      // Phases of 100 rounds: both replicas current, one held back, both held back.
      const phase = Math.floor(round / 100) % 3;
      if (round % 100 === 0) {
        for (const [i, replica] of set.replicas.entries()) {
          if (i < phase) replica.proxy.hold();
          else replica.proxy.release();
        }
      }
      await client.set('counter', round);
      if ((await client.get('counter')) !== round) stale++;
    }
    const after = readsBy(gateway);
    expect(stale).toBe(0);
    // Replicas answered while they were current, the primary while they were behind.
    expect(after.replica - before.replica).toBeGreaterThan(200);
    expect(after.primary - before.primary).toBeGreaterThan(200);
    expect(client.readYourWritesSyncToken).toMatch(/^cg1\.0-\d+$/);
  });

  it('without the token, a replica held back answers older data, until the lag bound skips it', async () => {
    const bounded = await startGateway(set.primary.url, {
      CACHEGATE_READ_FROM: 'replicas',
      CACHEGATE_REDIS_REPLICAS: set.addresses,
      CACHEGATE_REPLICA_MAX_LAG_MS: '500',
    });
    try {
      await waitForUsable(bounded, 2);
      const writer = sdk(bounded);
      const reader = sdk(bounded, false);
      await writer.set('k', 'old');
      await set.waitForReplicas();
      for (const replica of set.replicas) replica.proxy.hold();
      await writer.set('k', 'new');
      const written = Date.now();
      // The writer, holding its token, sees its write at once: the primary answers it.
      expect(await writer.get('k')).toBe('new');
      // A reader without one is answered by a replica that has not applied it yet.
      expect(await reader.get('k')).toBe('old');
      await waitFor(
        async () => (await reader.get('k')) === 'new',
        5_000,
        'the lagging replicas kept answering',
      );
      const window = Date.now() - written;
      // Skipped once their oldest missing write is 500 ms old (seen by a poll every 100 ms).
      expect(window).toBeGreaterThanOrEqual(400);
      console.log(`staleness window without a token (CACHEGATE_REPLICA_MAX_LAG_MS=500): ${window} ms`);
      expect(replicasOf(bounded).every((node) => !node.isUp)).toBe(true);
      // Released, they catch up and take reads again by themselves.
      for (const replica of set.replicas) replica.proxy.release();
      await waitForUsable(bounded, 2);
    } finally {
      await bounded.close();
    }
  });

  it('skips a killed replica within 2 s, answering every read meanwhile, and uses it again once back', {
    timeout: 60_000,
  }, async () => {
    const client = sdk(gateway, false);
    await client.set('k', 'v');
    const replica = set.replicas[0];
    if (replica === undefined) throw new Error('no replica');
    const killed = Date.now();
    await replica.server.kill();
    let failures = 0;
    let skippedAfter: number | undefined;
    while (Date.now() - killed < 3000) {
      try {
        expect(await client.get('k')).toBe('v');
      } catch {
        failures++;
      }
      const node = replicasOf(gateway).find((status) => status.address === replica.address);
      if (skippedAfter === undefined && node?.isUp === false) skippedAfter = Date.now() - killed;
    }
    expect(failures).toBe(0);
    expect(skippedAfter).toBeDefined();
    expect(skippedAfter as number).toBeLessThan(2000);
    await set.restartReplica(0);
    await waitForUsable(gateway, 2);
    await set.waitForReplicas();
    const before = replicasOf(gateway).find((status) => status.address === replica.address)?.reads ?? 0;
    for (let i = 0; i < 10; i++) await client.get('k');
    const after = replicasOf(gateway).find((status) => status.address === replica.address)?.reads ?? 0;
    expect(after).toBeGreaterThan(before);
  });

  it('reports every node by role on /metrics and counts usable replicas on /health', async () => {
    const metrics = await (await gateway.request('/metrics', { token: TOKENS.admin })).text();
    for (const replica of set.replicas) {
      expect(metrics).toContain(
        `cachegate_redis_node_up{node="${replica.address}",role="replica",shard="0"} 1`,
      );
      expect(metrics).toMatch(
        new RegExp(
          `cachegate_redis_replica_lag_seconds\\{node="${replica.address}",role="replica",shard="0"\\} 0`,
        ),
      );
    }
    expect(metrics).toContain(`role="primary",shard="0"} 1`);
    const health = await (await gateway.request('/health', { token: null })).json();
    expect(health.replicas).toEqual({ usable: 2, skipped: 0 });
    expect(JSON.stringify(health)).not.toContain('127.0.0.1');
  });
});

describe('read-your-writes across gateways, with the near cache on', () => {
  it('a token from one gateway keeps its writes visible through another: 0 stale reads in 300 rounds', {
    timeout: 60_000,
  }, async () => {
    const env = {
      CACHEGATE_READ_FROM: 'replicas',
      CACHEGATE_REDIS_REPLICAS: set.addresses,
      CACHEGATE_NEAR_CACHE: 'on',
      CACHEGATE_REPLICA_MAX_LAG_MS: '60000',
    };
    // The second gateway reaches the primary through a proxy: held, its near cache hears no invalidation.
    const link = await startFaultProxy(set.primary.port);
    const east = await startGateway(set.primary.url, env);
    const west = await startGateway(`redis://127.0.0.1:${link.port}`, env);
    try {
      await Promise.all([waitForUsable(east, 2), waitForUsable(west, 2)]);
      await waitFor(() => nearCachesOf(west.app.backend)[0]?.isLive === true, 5_000, 'no tracking');
      const writer = sdk(east);
      const reader = sdk(west);
      let stale = 0;
      for (let round = 0; round < 300; round++) {
        // Phases of 100 rounds: all current; the replicas held back; the west gateway's primary link held.
        if (round === 100) for (const replica of set.replicas) replica.proxy.hold();
        if (round === 200) {
          for (const replica of set.replicas) replica.proxy.release();
          await set.waitForReplicas();
          link.hold();
        }
        await writer.set('shared', round);
        reader.readYourWritesSyncToken = writer.readYourWritesSyncToken;
        // Twice: the first read may fill the near cache, the second may be answered from it.
        if ((await reader.get('shared')) !== round) stale++;
        if ((await reader.get('shared')) !== round) stale++;
        writer.readYourWritesSyncToken = reader.readYourWritesSyncToken;
      }
      expect(stale).toBe(0);
      // Once it has heard of the caller's last write, the near cache answers it again.
      link.release();
      const cache = nearCachesOf(west.app.backend)[0];
      await waitFor(
        async () => {
          const hits = cache?.store.stats.hits ?? 0;
          expect(await reader.get('shared')).toBe(299);
          return (cache?.store.stats.hits ?? 0) > hits;
        },
        5_000,
        'the near cache never answered the token again',
      );
    } finally {
      link.release();
      await Promise.all([east.close(), west.close()]);
      await link.close();
    }
  });
});
