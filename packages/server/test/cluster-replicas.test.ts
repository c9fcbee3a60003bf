import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, TOKENS, waitFor } from './helpers/gateway.js';
import { readAfterWrite, viaGet, viaScript } from './helpers/read-after-write.js';
import { nodeCommand, startTestCluster, type TestCluster } from './helpers/topologies.js';

// Issue 25: reads on Cluster replicas (READONLY connections), a sync token per shard, and a failover.
let cluster: TestCluster;
let gateway: TestGateway;
/** One key per shard. */
let keys: string[];

beforeAll(async () => {
  cluster = await startTestCluster(3, 1);
  gateway = await startGateway('redis://unused', {
    CACHEGATE_REDIS_URL: '',
    CACHEGATE_REDIS_CLUSTER_NODES: cluster.seeds,
    CACHEGATE_READ_FROM: 'replicas',
    CACHEGATE_NEAR_CACHE: 'on',
    CACHEGATE_COMMAND_TIMEOUT_MS: '1000',
  });
  await waitForReplicas(3);
  const byMaster = new Map<number, string>();
  for (let i = 0; byMaster.size < 3; i++) {
    const port = await cluster.masterPortOf(`key:${i}`);
    if (!byMaster.has(port)) byMaster.set(port, `key:${i}`);
  }
  keys = [...byMaster.values()];
}, 60_000);
afterAll(async () => {
  await gateway?.close();
  await cluster?.stop();
});

async function waitForReplicas(count: number) {
  await waitFor(
    () => gateway.app.backend.nodes().filter((node) => node.role === 'replica' && node.isUp).length >= count,
    20_000,
    `the gateway never read from ${count} replicas`,
  );
}

const client = () =>
  new Redis({ url: gateway.url, token: TOKENS.write, enableTelemetry: false, retry: false });

describe('Cluster with CACHEGATE_READ_FROM=replicas', () => {
  it("reads each key from its shard's replica, through READONLY connections, with a token per shard", async () => {
    const redis = client();
    for (const key of keys) await redis.set(key, 'v');
    expect(redis.readYourWritesSyncToken).toMatch(/^cg1(\.\d+-\d+){3}$/);
    await cluster.waitForReplication();
    const masters = await cluster.masterPorts();
    const replicaPorts = cluster.nodes.map((node) => node.port).filter((port) => !masters.includes(port));
    for (const port of [...masters, ...replicaPorts]) await nodeCommand(port, 'CONFIG', 'RESETSTAT');
    for (const key of keys) expect(await viaScript(redis, key)).toBe('v');
    let onReplicas = 0;
    for (const port of replicaPorts) {
      const stats = String(await nodeCommand(port, 'INFO', 'commandstats'));
      onReplicas += Number(/cmdstat_eval_ro:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    }
    // Each shard's replica ran its key's read: not redirected to its master (READONLY).
    expect(onReplicas).toBe(3);
  });

  it('follows a failover under read-after-write traffic on every shard: no stale read', {
    timeout: 120_000,
  }, async () => {
    const victim = await cluster.masterPortOf(keys[0] as string);
    let killedAt: number | undefined;
    let restarted = false;
    const seen = await readAfterWrite(client(), keys, {
      maxRounds: 50_000,
      reads: [viaGet, viaScript],
      onRound: async (round) => {
        if (round === 150) {
          await cluster.waitForReplication();
          killedAt = Date.now();
          await cluster.nodes.find((node) => node.port === victim)?.kill();
        }
        // Once its replica took over, the old master comes back as that replica's replica.
        if (killedAt !== undefined && !restarted && !(await cluster.masterPorts()).includes(victim)) {
          restarted = true;
          await cluster.restartNode(victim);
        }
      },
      isDone: (_, state) =>
        restarted &&
        state.readsSinceFailure > 100 &&
        gateway.app.backend.nodes().filter((node) => node.role === 'replica' && node.isUp).length === 3,
    });
    expect(seen.stale).toBe(0);
    console.log(`Cluster failover with replica reads: ${JSON.stringify(seen)}`);
  });
});
