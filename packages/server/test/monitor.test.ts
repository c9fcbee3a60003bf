import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_PRINCIPAL } from '../src/auth/principal.js';
import { startGateway, type TestGateway, type TestResponse, TOKENS, waitFor } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';
import { nodeCommand, startTestCluster, startTestSentinel } from './helpers/topologies.js';

let redis: TestRedis;
let gateway: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startGateway(redis.url, { CACHEGATE_MAX_MONITORS: '2' });
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});

/** A `POST /monitor` stream being read: its events so far, and a way to wait for one. */
interface Monitor {
  response: TestResponse;
  /** The `data:` events received so far. */
  events(): string[];
  /** Waits for an event that contains `text`. */
  waitFor(text: string): Promise<string>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Closes the stream from the client side. */
  abort(): void;
}

async function openMonitor(
  target: TestGateway = gateway,
  init: { token?: string; accept?: string } = {},
): Promise<Monitor> {
  const controller = new AbortController();
  const response = await target.request('/monitor', {
    method: 'POST',
    token: init.token ?? TOKENS.admin,
    headers: { accept: init.accept ?? 'text/event-stream' },
    signal: controller.signal,
  });
  let text = '';
  let ended: Promise<void> = Promise.resolve();
  if (response.ok && response.body) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    ended = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          text += decoder.decode(value, { stream: true });
        }
      } catch {
        // Aborted by the test.
      }
    })();
  }
  const events = () =>
    text
      .split('\n\n')
      .slice(0, -1)
      .filter((block) => block.startsWith('data: '));
  return {
    response,
    events,
    ended,
    abort: () => controller.abort(),
    async waitFor(wanted) {
      await waitFor(() => events().some((e) => e.includes(wanted)), 5_000, `no event with ${wanted}`);
      return events().find((e) => e.includes(wanted)) as string;
    },
  };
}

const post = (target: TestGateway, body: unknown, token: string = TOKENS.write) =>
  target.request('/', { method: 'POST', body: JSON.stringify(body), token });

/** Connections in MONITOR mode on a Redis server, from its own CLIENT LIST. */
async function monitorConnections(url: string): Promise<number> {
  const port = Number(new URL(url).port);
  const list = String(await nodeCommand(port, 'CLIENT', 'LIST'));
  return list.split('\n').filter((line) => / cmd=monitor /.test(line)).length;
}

describe('POST /monitor', () => {
  it('streams "OK", then the commands run through the gateway and by other clients', async () => {
    const monitor = await openMonitor();
    expect(monitor.response.status).toBe(200);
    expect(monitor.response.headers.get('content-type')).toBe('text/event-stream');
    await waitFor(() => monitor.events().length > 0, 5_000, 'no first event');
    expect(monitor.events()[0]).toBe('data: "OK"');
    await post(gateway, ['SET', 'through-gateway', 'v1']);
    await redis.command('SET', 'direct-client', 'v2');
    const line = await monitor.waitFor('"through-gateway"');
    // Redis's own line, unquoted, as Upstash documents: `data: <time> [<db> <client>] "SET" "k" "v"`.
    expect(line).toMatch(/^data: \d+\.\d+ \[0 [^\]]+\] "SET" "through-gateway" "v1"$/);
    expect(await monitor.waitFor('"direct-client"')).toMatch(/"SET" "direct-client" "v2"$/);
    monitor.abort();
    await waitFor(() => gateway.app.inFlight() === 0, 5_000, 'the stream still counts as in flight');
  });

  it('is for admin tokens only, with the 403 of any denied command', async () => {
    const denied = await post(gateway, ['FLUSHALL'], TOKENS.write);
    expect(denied.status).toBe(403);
    const deniedBody = await denied.json();
    for (const token of [TOKENS.read, TOKENS.write]) {
      const monitor = await openMonitor(gateway, { token });
      expect(monitor.response.status).toBe(403);
      const body = await monitor.response.json();
      expect(Object.keys(body)).toEqual(Object.keys(deniedBody));
      expect(body.error).toBe('MONITOR is a @admin command: it needs a token with scope "admin"');
    }
    expect((await gateway.request('/monitor', { method: 'POST', token: null })).status).toBe(401);
    expect(await monitorConnections(redis.url)).toBe(0);
  });

  it('needs an Accept header that allows text/event-stream', async () => {
    const json = await openMonitor(gateway, { accept: 'application/json' });
    expect(json.response.status).toBe(406);
    expect((await json.response.json()).error).toContain('text/event-stream');
    const any = await openMonitor(gateway, { accept: '*/*' });
    expect(any.response.status).toBe(200);
    any.abort();
    await waitFor(async () => (await monitorConnections(redis.url)) === 0, 5_000, 'monitor left open');
  });

  it('points MONITOR sent as a command to the stream', async () => {
    const response = await post(gateway, ['MONITOR'], TOKENS.admin);
    expect(response.status).toBe(403);
    expect((await response.json()).error).toContain('POST /monitor');
  });

  it('opens at most CACHEGATE_MAX_MONITORS streams; a closed one frees its slot and its Redis connection', async () => {
    const first = await openMonitor();
    const second = await openMonitor();
    expect([first.response.status, second.response.status]).toEqual([200, 200]);
    await waitFor(async () => (await monitorConnections(redis.url)) === 2, 5_000, 'two monitors expected');
    const third = await openMonitor();
    expect(third.response.status).toBe(503);
    expect(third.response.headers.get('retry-after')).toBe('1');
    expect((await third.response.json()).error).toContain('CACHEGATE_MAX_MONITORS');
    expect(await monitorConnections(redis.url)).toBe(2);

    first.abort();
    await waitFor(
      async () => (await monitorConnections(redis.url)) === 1,
      5_000,
      "the aborted stream's MONITOR connection is still open",
    );
    const again = await openMonitor();
    expect(again.response.status).toBe(200);
    second.abort();
    again.abort();
    await waitFor(async () => (await monitorConnections(redis.url)) === 0, 5_000, 'monitors left open');
    await waitFor(() => gateway.app.inFlight() === 0, 5_000, 'streams still count as in flight');
    const metrics = await gateway.request('/metrics', { token: TOKENS.admin });
    expect(await metrics.text()).toMatch(/^cachegate_monitor_streams 0$/m);
  });

  it('ends the stream when Redis is lost, and opens again once it is back', async () => {
    const monitor = await openMonitor();
    await waitFor(() => monitor.events().length > 0, 5_000, 'no first event');
    await redis.kill();
    await monitor.ended;
    redis = await redis.restart();
    await waitFor(() => gateway.app.backend.isReady, 10_000, 'the gateway never reconnected');
    // The lost stream gave its slot back: both slots are free.
    const [a, b] = [await openMonitor(), await openMonitor()];
    expect([a.response.status, b.response.status]).toEqual([200, 200]);
    a.abort();
    b.abort();
    await waitFor(async () => (await monitorConnections(redis.url)) === 0, 5_000, 'monitors left open');
  });

  it('ends its streams and closes their Redis connections when the gateway shuts down', async () => {
    const own = await startGateway(redis.url);
    const monitor = await openMonitor(own);
    await waitFor(() => monitor.events().length > 0, 5_000, 'no first event');
    expect(await monitorConnections(redis.url)).toBe(1);
    await own.close();
    await monitor.ended;
    await waitFor(async () => (await monitorConnections(redis.url)) === 0, 5_000, 'monitor left open');
  });
});

describe('RedisBackend.monitor', () => {
  it('ends its streams when the backend closes (as when Sentinel names another master)', async () => {
    const own = await startGateway(redis.url);
    let ended = 0;
    const stop = await own.app.backend.monitor(
      GATEWAY_PRINCIPAL,
      { listener: () => undefined, onEnd: () => ended++ },
      Date.now() + 2_000,
    );
    expect(await monitorConnections(redis.url)).toBe(1);
    await own.app.backend.close();
    expect(ended).toBe(1);
    await waitFor(async () => (await monitorConnections(redis.url)) === 0, 5_000, 'monitor left open');
    stop();
    expect(ended).toBe(1);
    await own.close();
  });
});

describe('POST /monitor in Cluster mode', () => {
  it('merges every master into one stream', async () => {
    const cluster = await startTestCluster(3, 0);
    const own = await startGateway('redis://unused', {
      CACHEGATE_REDIS_URL: '',
      CACHEGATE_REDIS_CLUSTER_NODES: cluster.seeds,
    });
    try {
      const byMaster = new Map<number, string>();
      for (let i = 0; byMaster.size < 3 && i < 1000; i++) {
        const port = await cluster.masterPortOf(`key:${i}`);
        if (!byMaster.has(port)) byMaster.set(port, `key:${i}`);
      }
      expect(byMaster.size).toBe(3);
      const monitor = await openMonitor(own);
      expect(monitor.response.status).toBe(200);
      await waitFor(() => monitor.events().length > 0, 5_000, 'no first event');
      expect(monitor.events()).toEqual(['data: "OK"']);
      for (const key of byMaster.values()) expect((await post(own, ['SET', key, 'v'])).status).toBe(200);
      for (const key of byMaster.values()) await monitor.waitFor(`"SET" "${key}" "v"`);
      for (const node of cluster.nodes) expect(await monitorConnections(node.url)).toBe(1);
      monitor.abort();
      for (const node of cluster.nodes) {
        await waitFor(async () => (await monitorConnections(node.url)) === 0, 5_000, 'monitor left open');
      }
    } finally {
      await own.close();
      await cluster.stop();
    }
  }, 60_000);
});

describe('POST /monitor in Sentinel mode', () => {
  it('monitors the master, and a failover ends the stream and closes its connection', async () => {
    const sentinel = await startTestSentinel();
    const own = await startGateway('redis://unused', {
      CACHEGATE_REDIS_URL: '',
      CACHEGATE_REDIS_SENTINELS: sentinel.seeds,
      CACHEGATE_REDIS_SENTINEL_MASTER: sentinel.masterName,
    });
    try {
      const oldMaster = await sentinel.masterPort();
      const monitor = await openMonitor(own);
      expect(monitor.response.status).toBe(200);
      await post(own, ['SET', 'before', 'failover']);
      await monitor.waitFor('"SET" "before" "failover"');
      const oldMasterUrl = `redis://127.0.0.1:${oldMaster}`;
      expect(await monitorConnections(oldMasterUrl)).toBe(1);

      // A failover without killing anything: the old master lives on as a replica (Sentinel also kills
      // its normal clients as it demotes it), and the gateway switches to the new master.
      await nodeCommand(sentinel.sentinels[0]?.port as number, 'SENTINEL', 'FAILOVER', sentinel.masterName);
      await monitor.ended;
      await waitFor(
        async () => (await monitorConnections(oldMasterUrl)) === 0,
        5_000,
        "the old master's monitor connection is still open",
      );

      const newMaster = await sentinel.masterPort();
      expect(newMaster).not.toBe(oldMaster);
      await waitFor(
        async () => (await openMonitorStatus(own)) === 200,
        20_000,
        'no monitor on the new master',
      );
      const again = await openMonitor(own);
      await post(own, ['SET', 'after', 'failover']);
      await again.waitFor('"SET" "after" "failover"');
      expect(await monitorConnections(`redis://127.0.0.1:${newMaster}`)).toBe(1);
      again.abort();
    } finally {
      await own.close();
      await sentinel.stop();
    }
  }, 90_000);
});

/** Opens a monitor and closes it at once, for its status. */
async function openMonitorStatus(target: TestGateway): Promise<number> {
  const monitor = await openMonitor(target);
  monitor.abort();
  await monitor.ended;
  return monitor.response.status;
}
