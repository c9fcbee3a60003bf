import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/redis/embedded.js';
import { spawnGateway, spawnReadyGateway, TOKENS, waitFor } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

/** A Lua script that keeps Redis busy for `ms`, to hold requests in flight. */
const busyScript = (ms: number) =>
  `local s = redis.call('TIME') local t0 = s[1] * 1000000 + s[2] ` +
  `while true do local n = redis.call('TIME') if n[1] * 1000000 + n[2] - t0 > ${ms * 1000} then break end end ` +
  `return 'done'`;

const auth = (token: string = TOKENS.write) => ({ authorization: `Bearer ${token}` });

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('the cachegate process', () => {
  it('drains in-flight requests on SIGTERM and exits 0', async () => {
    const gateway = await spawnReadyGateway({ REDIS_URL: redis.url, CACHEGATE_TOKEN: TOKENS.write });
    const base = gateway.base;

    const inFlight = Array.from({ length: 4 }, () =>
      fetch(`${base}/`, {
        method: 'POST',
        headers: auth(),
        body: JSON.stringify(['EVAL', busyScript(150), '0']),
      }),
    );
    await new Promise((done) => setTimeout(done, 100));
    gateway.child.kill('SIGTERM');

    const responses = await Promise.all(inFlight);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    for (const response of responses) expect(await response.json()).toEqual({ result: 'done' });
    expect(await gateway.exited).toBe(0);
    await expect(fetch(`${base}/livez`)).rejects.toThrow();
  });

  it('ends open /subscribe streams on SIGTERM instead of waiting for them', async () => {
    const gateway = await spawnReadyGateway({ REDIS_URL: redis.url, CACHEGATE_TOKEN: TOKENS.write });
    const base = gateway.base;
    const stream = await fetch(`${base}/subscribe/news`, { method: 'POST', headers: auth(), body: '[]' });
    expect(stream.status).toBe(200);
    const body = stream.text();
    const started = Date.now();
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await body).toContain('data: subscribe,news,1');
  });

  it('reads REDIS_URL, CACHEGATE_TOKEN and PORT from the environment', async () => {
    const gateway = await spawnReadyGateway({ REDIS_URL: redis.url, REDIS_SERVICE_API_KEY: TOKENS.write });
    const base = gateway.base;
    try {
      const put = await fetch(`${base}/v1/cache/from-env`, {
        method: 'PUT',
        headers: auth(),
        body: '{"value":[1]}',
      });
      expect(put.status).toBe(200);
      expect(await redis.command('GET', 'from-env')).toBe('[1]');
      expect((await fetch(`${base}/v1/cache/from-env`)).status).toBe(401);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  });

  it('runs an embedded redis-server with no REDIS_URL, prints a token, and stops Redis on exit', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'cachegate-embedded-'));
    const gateway = await spawnReadyGateway({}, { cwd });
    const base = gateway.base;
    try {
      await waitFor(() => gateway.output().includes('Token'), 5_000, 'no banner');
      const token = readFileSync(join(cwd, '.cachegate', 'dev-token'), 'utf8').trim();
      expect(gateway.output()).toContain(token);
      expect(gateway.output()).toContain('DEVELOPMENT');
      expect(existsSync(join(cwd, '.cachegate', 'redis', 'redis.conf'))).toBe(true);

      const headers = auth(token);
      const put = await fetch(`${base}/v1/cache/greeting`, {
        method: 'PUT',
        headers,
        body: '{"value":{"hi":"👋"}}',
      });
      expect(put.status).toBe(200);
      const got = await fetch(`${base}/v1/cache/greeting`, { headers });
      expect(((await got.json()) as { value: unknown }).value).toEqual({ hi: '👋' });
      expect((await fetch(`${base}/v1/cache/greeting`)).status).toBe(401);

      const redisPort = Number(/127\.0\.0\.1:(\d+), data/.exec(gateway.output())?.[1]);
      expect(redisPort).toBeGreaterThan(0);
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited).toBe(0);
      // The embedded Redis is gone with the gateway: nothing listens on its port any more.
      const { createConnection } = await import('node:net');
      const refused = await new Promise<boolean>((done) => {
        const socket = createConnection({ host: '127.0.0.1', port: redisPort });
        socket.once('connect', () => {
          socket.destroy();
          done(false);
        });
        socket.once('error', () => done(true));
      });
      expect(refused).toBe(true);
    } finally {
      gateway.child.kill('SIGKILL');
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('keeps a development setup on loopback unless HOST says otherwise, and says so', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'cachegate-loopback-'));
    // HOST empty counts as unset.
    const gateway = await spawnReadyGateway({ HOST: '' }, { cwd });
    try {
      await waitFor(() => gateway.output().includes('Listening on'), 5_000, 'no banner');
      expect(gateway.output()).toContain('Listening on 127.0.0.1 only');
      const port = Number(new URL(gateway.base).port);
      // The kernel's own table of listening sockets: the gateway's is bound to 127.0.0.1, not 0.0.0.0.
      const listening = readFileSync('/proc/net/tcp', 'utf8')
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter(
          (fields) =>
            fields[3] === '0A' && fields[1]?.endsWith(`:${port.toString(16).toUpperCase().padStart(4, '0')}`),
        )
        .map((fields) => fields[1]?.split(':')[0]);
      expect(listening).toEqual(['0100007F']);
    } finally {
      gateway.child.kill('SIGKILL');
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('reloads the tokens file on SIGHUP, keeping the old tokens when the new file is invalid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-hup-'));
    const file = join(dir, 'tokens.json');
    const tokens = (token: string) => JSON.stringify([{ name: 'svc', token, scope: 'write' }]);
    writeFileSync(file, tokens('first-token-0123456789'));
    const gateway = await spawnReadyGateway({
      REDIS_URL: redis.url,
      CACHEGATE_TOKENS_FILE: file,
      CACHEGATE_LOG_LEVEL: 'info',
    });
    const status = async (token: string) =>
      (await fetch(`${gateway.base}/get/k`, { headers: auth(token) })).status;
    try {
      expect(await status('first-token-0123456789')).toBe(200);

      writeFileSync(file, tokens('second-token-0123456789'));
      gateway.child.kill('SIGHUP');
      await waitFor(async () => (await status('second-token-0123456789')) === 200, 5_000, 'not reloaded');
      expect(await status('first-token-0123456789')).toBe(401);

      writeFileSync(file, '[{"name": broken');
      gateway.child.kill('SIGHUP');
      await waitFor(() => gateway.output().includes('tokens not reloaded'), 5_000, 'no reload error logged');
      expect(await status('second-token-0123456789')).toBe(200);
      expect(gateway.output()).not.toContain('second-token-0123456789');
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs CACHEGATE_WORKERS processes on one port, sums their metrics, and drains them all on SIGTERM', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const gateway = spawnGateway({
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      CACHEGATE_TOKEN: TOKENS.write,
      CACHEGATE_WORKERS: '2',
      CACHEGATE_METRICS_PORT: String(metricsPort),
      // Request lines, which say which worker served each request, are debug lines.
      CACHEGATE_LOG_LEVEL: 'debug',
    });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(() => gateway.output().includes('all workers listening'), 15_000, 'workers never listened');
    // Each worker connects to Redis on its own: ready once new connections (spread over both) all say so.
    const allReady = async () => {
      for (let i = 0; i < 6; i++) {
        if (!(await fetch(`${base}/readyz`, { headers: { connection: 'close' } })).ok) return false;
      }
      return true;
    };
    await waitFor(allReady, 5_000, 'never ready');
    const pids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      // A new connection each time, so the primary hands them to different workers.
      const response = await fetch(`${base}/get/k`, { headers: { ...auth(), connection: 'close' } });
      expect(response.status).toBe(200);
    }
    for (const line of gateway.output().split('\n')) {
      if (line.includes('"route":"/*"')) pids.add(JSON.parse(line).pid);
    }
    expect(pids.size).toBe(2);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const served = metrics
      .split('\n')
      .filter((line) => line.startsWith('cachegate_http_requests_total{route="/*"'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    expect(served).toBe(20);

    const inFlight = fetch(`${base}/`, {
      method: 'POST',
      headers: auth(),
      body: JSON.stringify(['EVAL', busyScript(300), '0']),
    });
    await new Promise((done) => setTimeout(done, 100));
    gateway.child.kill('SIGTERM');
    expect((await inFlight).status).toBe(200);
    expect(await gateway.exited).toBe(0);
  });

  it('exits 1 with install hints when redis-server is missing', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'cachegate-noredis-'));
    // An empty directory as PATH: no redis-server to be found (node itself is spawned by absolute path).
    const gateway = spawnGateway({ PATH: cwd, CACHEGATE_LOG_LEVEL: 'warn' }, { cwd });
    expect(await gateway.exited).toBe(1);
    expect(gateway.output()).toContain("'redis-server' was not found");
    expect(gateway.output()).toContain('apt-get install -y redis-server');
    rmSync(cwd, { recursive: true, force: true });
  });

  it('refuses to start in production without a token', async () => {
    const gateway = spawnGateway({ NODE_ENV: 'production', REDIS_URL: redis.url });
    expect(await gateway.exited).toBe(2);
    expect(gateway.output()).toContain('set CACHEGATE_TOKEN');
  });

  it('lists every configuration problem at once and exits 2', async () => {
    const gateway = spawnGateway({ PORT: 'eighty', REDIS_URL: 'http://nope', CACHEGATE_TOKEN: 'short' });
    expect(await gateway.exited).toBe(2);
    const output = gateway.output();
    expect(output).toContain('PORT="eighty"');
    expect(output).toContain('CACHEGATE_REDIS_URL');
    expect(output).toContain('CACHEGATE_TOKEN=(hidden)');
    expect(output).not.toContain('short');
  });

  it('prints every variable with its default for --help', async () => {
    const gateway = spawnGateway({}, { args: ['--help'] });
    expect(await gateway.exited).toBe(0);
    for (const name of [
      'PORT',
      'REDIS_URL',
      'CACHEGATE_TOKEN',
      'REDIS_SERVICE_API_KEY',
      'CACHEGATE_COMMAND_TIMEOUT_MS',
    ]) {
      expect(gateway.output()).toContain(name);
    }
    expect(gateway.output()).toContain('(default: 8080)');
  });
});
