import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/redis/embedded.js';
import { MAIN, spawnReadyGateway, TOKENS, waitFor } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

/** What the process writes on stdout, for a person at a terminal and for whatever reads a pipe. */

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const ESC = String.fromCharCode(27);

/** Keeps Redis busy for 300 ms, to hold a request in flight. */
const BUSY_300_MS =
  "local s = redis.call('TIME') local t0 = s[1] * 1000000 + s[2] " +
  "repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] - t0 > 300000 return 'done'";

const env = () => ({ REDIS_URL: redis.url, CACHEGATE_TOKEN: TOKENS.write, CACHEGATE_LOG_LEVEL: 'info' });

describe('log lines', () => {
  it('are JSON objects when stdout is a pipe', async () => {
    const gateway = await spawnReadyGateway(env());
    try {
      await waitFor(() => gateway.output().includes('connected to Redis'), 5_000, 'no log line');
      const lines = gateway.output().trim().split('\n');
      for (const line of lines) expect(JSON.parse(line)).toMatchObject({ level: expect.any(Number) });
      expect(lines.map((line) => JSON.parse(line).msg)).toContain('listening');
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  });

  // util-linux `script` runs the gateway on a pseudo-terminal, as a developer's shell would.
  it('are one readable line per entry when stdout is a terminal', async () => {
    const port = await freePort();
    const child = spawn('script', ['-qfec', `exec "${process.execPath}" "${MAIN}"`, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', ...env(), PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    const exited = new Promise((done) => child.once('exit', done));
    try {
      await waitFor(() => output.includes('connected to Redis'), 10_000, `no log line:\n${output}`);
      const plain = output.replaceAll(ESC, '').replace(/\[\d+m/g, '');
      expect(plain).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}listening address=\{"address":"127\.0\.0\.1"/m);
      expect(plain).toMatch(/INFO {2}connected to Redis component=redis/);
      expect(plain).not.toContain('{"level"');
      // Colours, since it is a terminal.
      expect(output).toContain(`${ESC}[32mINFO`);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe('shutdown with stdout a pipe whose reader has exited', () => {
  it.each(['json', 'pretty'])('drains and exits 0 within the grace period (%s logs)', async (format) => {
    // The reader exits at the first line it gets; every later log line meets a closed pipe (EPIPE).
    const reader = spawn(process.execPath, ['-e', "process.stdin.once('data', () => process.exit(0))"], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const readerGone = new Promise((done) => reader.once('exit', done));
    const graceMs = 3000;
    const gateway = await spawnReadyGateway(
      { ...env(), CACHEGATE_LOG_FORMAT: format, CACHEGATE_SHUTDOWN_GRACE_MS: String(graceMs) },
      { stdout: reader.stdin },
    );
    await readerGone;
    // Log lines written after the reader left, and a request still in flight when SIGTERM arrives.
    for (let i = 0; i < 3; i++) await fetch(`${gateway.base}/nope`);
    const slow = fetch(`${gateway.base}/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.write}` },
      body: JSON.stringify(['EVAL', BUSY_300_MS, '0']),
    });
    await new Promise((done) => setTimeout(done, 50));
    const started = Date.now();
    gateway.child.kill('SIGTERM');
    const code = await gateway.exited;
    expect(Date.now() - started).toBeLessThan(graceMs);
    expect(code, gateway.output()).toBe(0);
    expect(await (await slow).json()).toEqual({ result: 'done' });
  });
});

describe('which requests get a line', () => {
  /** The JSON lines of the output so far, parsed. */
  const entries = (output: string) =>
    output
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string; route?: string; status?: number });
  const post = (base: string, body: unknown[]) =>
    fetch(`${base}/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.write}` },
      body: JSON.stringify(body),
    });

  it('at the default level: none per request or probe; slow requests and 5xx answers at warn', async () => {
    const gateway = await spawnReadyGateway({ ...env(), CACHEGATE_SLOW_REQUEST_MS: '200' });
    try {
      for (let i = 0; i < 5; i++) {
        await fetch(`${gateway.base}/readyz`);
        await fetch(`${gateway.base}/health`);
        await post(gateway.base, ['SET', 'k', 'v']);
        await fetch(`${gateway.base}/get/k`); // 401: a client's problem, no line
      }
      expect(await (await post(gateway.base, ['EVAL', BUSY_300_MS, '0'])).json()).toEqual({ result: 'done' });
      await waitFor(() => gateway.output().includes('slow request'), 5_000, 'no slow request line');
      const requestLines = entries(gateway.output()).filter((entry) => entry.route !== undefined);
      expect(requestLines).toEqual([
        expect.objectContaining({ level: 40, msg: 'slow request', route: '/', status: 200 }),
      ]);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  });

  it('a 5xx answer always has its line; with debug, every request but the probes', async () => {
    const down = await spawnReadyGateway(
      { ...env(), REDIS_URL: `redis://127.0.0.1:${await freePort()}` },
      { ready: '/livez' },
    );
    try {
      expect((await post(down.base, ['GET', 'k'])).status).toBe(503);
      await waitFor(() => down.output().includes('request failed'), 5_000, 'no line for the 503');
      expect(entries(down.output())).toContainEqual(
        expect.objectContaining({ level: 40, msg: 'request failed', route: '/', status: 503 }),
      );
      expect(entries(down.output()).filter((entry) => entry.route === '/livez')).toEqual([]);
    } finally {
      down.child.kill('SIGTERM');
      await down.exited;
    }
    const debug = await spawnReadyGateway({ ...env(), CACHEGATE_LOG_LEVEL: 'debug' });
    try {
      await post(debug.base, ['SET', 'k', 'v']);
      await fetch(`${debug.base}/health`);
      await fetch(`${debug.base}/metrics`);
      await waitFor(
        () => entries(debug.output()).some((entry) => entry.msg === 'request'),
        5_000,
        'no request line at debug',
      );
      const routes = entries(debug.output()).flatMap((entry) => (entry.route ? [entry.route] : []));
      expect(routes).toEqual(['/']);
      expect(entries(debug.output()).find((entry) => entry.route === '/')).toMatchObject({
        level: 20,
        msg: 'request',
        status: 200,
      });
    } finally {
      debug.child.kill('SIGTERM');
      await debug.exited;
    }
  });
});
