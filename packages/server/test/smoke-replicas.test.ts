import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGateway, type TestGateway, TOKENS, waitFor } from './helpers/gateway.js';
import { startTestReplicaSet, type TestReplicaSet } from './helpers/topologies.js';

let set: TestReplicaSet;
let gateway: TestGateway;
beforeAll(async () => {
  set = await startTestReplicaSet(2);
  gateway = await startGateway(set.primary.url, {
    CACHEGATE_READ_FROM: 'replicas',
    CACHEGATE_REDIS_REPLICAS: set.addresses,
  });
}, 60_000);
afterAll(async () => {
  await gateway?.close();
  await set?.stop();
});

it('smoke', async () => {
  await waitFor(() => gateway.app.backend.nodes().filter((n) => n.isUp).length === 3, 5000, 'nodes never up');
  const sdk = new Redis({ url: gateway.url, token: TOKENS.write, enableTelemetry: false });
  let stale = 0;
  for (let i = 0; i < 200; i++) {
    await sdk.set('k', i);
    if ((await sdk.get('k')) !== i) stale++;
  }
  console.log(JSON.stringify(gateway.app.backend.nodes().map(({ nearCache: _n, ...n }) => n)), stale, sdk.readYourWritesSyncToken);
  set.replicas[0]?.proxy.hold();
  set.replicas[1]?.proxy.hold();
  for (let i = 0; i < 200; i++) {
    await sdk.set('k', i);
    if ((await sdk.get('k')) !== i) stale++;
  }
  console.log(JSON.stringify(gateway.app.backend.nodes().map(({ nearCache: _n, ...n }) => n)), stale);
  expect(stale).toBe(0);
});
