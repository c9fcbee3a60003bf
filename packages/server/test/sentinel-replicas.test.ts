import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, TOKENS, waitFor } from './helpers/gateway.js';
import { readAfterWrite, viaGet, viaScript } from './helpers/read-after-write.js';
import { nodeCommand, startTestSentinel, type TestSentinel } from './helpers/topologies.js';

// Issue 25: reads on the replicas the Sentinels list, followed across a failover, with read-your-writes.
let sentinel: TestSentinel;
let gateway: TestGateway;

beforeAll(async () => {
  sentinel = await startTestSentinel('cachegate', 2);
  gateway = await startGateway('redis://unused', {
    CACHEGATE_REDIS_URL: '',
    CACHEGATE_REDIS_SENTINELS: sentinel.seeds,
    CACHEGATE_REDIS_SENTINEL_MASTER: sentinel.masterName,
    CACHEGATE_READ_FROM: 'replicas',
    CACHEGATE_NEAR_CACHE: 'on',
    // Every acknowledged write is on a replica, so the failover loses none (decision 0006).
    CACHEGATE_WRITE_REPLICAS: '1',
    CACHEGATE_COMMAND_TIMEOUT_MS: '1000',
  });
  await waitForReplicas(2);
}, 60_000);
afterAll(async () => {
  await gateway?.close();
  await sentinel?.stop();
});

async function waitForReplicas(count: number) {
  await waitFor(
    () => gateway.app.backend.nodes().filter((node) => node.role === 'replica' && node.isUp).length === count,
    20_000,
    `the gateway never read from ${count} replicas`,
  );
}

const replicaReads = () =>
  gateway.app.backend
    .nodes()
    .filter((node) => node.role === 'replica')
    .reduce((total, node) => total + node.reads, 0);

describe('Sentinel with CACHEGATE_READ_FROM=replicas', () => {
  it('reads from the replicas the Sentinels name, provisioned with the scope users', async () => {
    const client = new Redis({ url: gateway.url, token: TOKENS.write, enableTelemetry: false });
    await client.set('k', 'v');
    const before = replicaReads();
    // TTL: a read the near cache does not keep (its misses are the primary's, decision 0021).
    for (let i = 0; i < 10; i++) expect(await client.ttl('k')).toBe(-1);
    expect(replicaReads() - before).toBe(10);
    for (const replica of sentinel.replicas)
      expect(String(await nodeCommand(replica.port, 'ACL', 'USERS'))).toContain('cachegate-read');
  });

  it('reads only from the replicas CACHEGATE_REDIS_REPLICAS names, of those the Sentinels list', async () => {
    const near = sentinel.replicas[1];
    if (near === undefined) throw new Error('no second replica');
    const regional = await startGateway('redis://unused', {
      CACHEGATE_REDIS_URL: '',
      CACHEGATE_REDIS_SENTINELS: sentinel.seeds,
      CACHEGATE_REDIS_SENTINEL_MASTER: sentinel.masterName,
      CACHEGATE_READ_FROM: 'replicas',
      CACHEGATE_REDIS_REPLICAS: `127.0.0.1:${near.port}`,
    });
    try {
      await waitFor(
        () => regional.app.backend.nodes().some((node) => node.role === 'replica' && node.isUp),
        10_000,
        'the named replica never took reads',
      );
      const replicas = regional.app.backend.nodes().filter((node) => node.role === 'replica');
      expect(replicas.map((node) => node.address)).toEqual([`127.0.0.1:${near.port}`]);
    } finally {
      await regional.close();
    }
  });

  it('follows a failover under read-after-write traffic: no stale read, replicas read again after', {
    timeout: 90_000,
  }, async () => {
    const client = new Redis({
      url: gateway.url,
      token: TOKENS.write,
      enableTelemetry: false,
      retry: false,
    });
    const oldMaster = sentinel.master.port;
    let killedAt: number | undefined;
    let replicaReadsAtFailover = 0;
    const seen = await readAfterWrite(client, ['a', 'b', 'c'], {
      maxRounds: 20_000,
      // Both ways a read goes: the near cache (and the primary's tracked reader), and the replicas.
      reads: [viaGet, viaScript],
      onRound: async (round) => {
        if (round === 200) {
          killedAt = Date.now();
          await sentinel.master.kill();
        }
      },
      isDone: (round) => {
        if (killedAt === undefined || round % 20 !== 0) return false;
        const promoted = gateway.app.backend.nodes().some((node) => node.role === 'primary' && node.isUp);
        if (replicaReadsAtFailover === 0 && promoted) replicaReadsAtFailover = replicaReads();
        // Done once the new master's remaining replica has answered reads for a while.
        return replicaReadsAtFailover > 0 && replicaReads() - replicaReadsAtFailover > 50;
      },
    });
    expect(seen.stale).toBe(0);
    expect(seen.failed).toBeGreaterThan(0);
    expect(await sentinel.masterPort()).not.toBe(oldMaster);
    console.log(`Sentinel failover with replica reads: ${JSON.stringify(seen)}`);
  });
});
