import { Cachegate } from '@cachegate/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, TOKENS, waitFor } from '../../server/test/helpers/gateway.js';
import { startTestReplicaSet, type TestReplicaSet } from '../../server/test/helpers/topologies.js';

// The client sends back the gateway's upstash-sync-token: against a gateway that reads from replicas, its
// reads see its writes even while replication is held back.
let set: TestReplicaSet;
let gateway: TestGateway;

beforeAll(async () => {
  set = await startTestReplicaSet(1);
  gateway = await startGateway(set.primary.url, {
    CACHEGATE_READ_FROM: 'replicas',
    CACHEGATE_REDIS_REPLICAS: set.addresses,
    CACHEGATE_REPLICA_MAX_LAG_MS: '60000',
  });
  await waitFor(
    () => gateway.app.backend.nodes().some((node) => node.role === 'replica' && node.isUp),
    10_000,
    'the replica never took reads',
  );
}, 60_000);
afterAll(async () => {
  await gateway?.close();
  await set?.stop();
});

describe('read-your-writes over HTTP', () => {
  it('reads its own writes from a gateway on replicas, replication held back or not: 0 stale in 300 rounds', async () => {
    const cache = new Cachegate({ url: gateway.url, token: TOKENS.write });
    const replica = set.replicas[0];
    let stale = 0;
    for (let round = 0; round < 300; round++) {
      if (round === 100) replica?.proxy.hold();
      if (round === 200) replica?.proxy.release();
      await cache.set('counter', round);
      if ((await cache.get('counter')) !== round) stale++;
    }
    expect(stale).toBe(0);
    const reads = gateway.app.backend.nodes().find((node) => node.role === 'replica')?.reads ?? 0;
    expect(reads).toBeGreaterThan(50);
  });
});
