import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type Gateway } from '../src/app.js';
import { TokenStore } from '../src/auth/token-store.js';
import { freePort } from '../src/redis/embedded.js';
import { spawnReadyGateway, type TestResponse, TOKENS, testConfig, waitFor } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

/** Many databases behind one gateway (issue 13, item 5): tokens-file entries with their own `redisUrl`. */

const PASSWORD = 'beta-secret-password-0123';
const T = {
  alphaWrite: 'alpha-write-token-0123456789',
  alphaRead: 'alpha-read-token-0123456789',
  beta: 'beta-token-0123456789abcdef',
  alphaAdmin: 'alpha-admin-token-0123456789',
} as const;

let main: TestRedis;
let alpha: TestRedis;
let beta: TestRedis;
let dir: string;
const started: Gateway[] = [];

beforeAll(async () => {
  [main, alpha, beta] = await Promise.all([
    startTestRedis(),
    startTestRedis(),
    startTestRedis({ password: PASSWORD }),
  ]);
  dir = mkdtempSync(join(tmpdir(), 'cachegate-databases-'));
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((app) => app.close()));
  await Promise.all([main, alpha, beta].map((redis) => redis.command('FLUSHALL')));
});
afterAll(async () => {
  await Promise.all([main, alpha, beta].map((redis) => redis?.stop()));
  rmSync(dir, { recursive: true, force: true });
});

const betaUrl = () => `redis://:${PASSWORD}@127.0.0.1:${beta.port}`;

/** alpha: a write and a read token sharing one database; beta: a password in the URL. */
const entries = () => [
  { name: 'alpha-write', token: T.alphaWrite, scope: 'write', database: 'alpha', redisUrl: alpha.url },
  { name: 'alpha-read', token: T.alphaRead, scope: 'read', database: 'alpha' },
  { name: 'beta', token: T.beta, scope: 'write', redisUrl: betaUrl() },
];

let files = 0;
function writeTokensFile(content: unknown[]): string {
  const file = join(dir, `tokens-${files++}.json`);
  writeFileSync(file, JSON.stringify(content));
  return file;
}

/** A gateway on port 0 with the test tokens plus a tokens file, its log lines kept for inspection. */
async function start(content: unknown[] = entries(), env: Record<string, string> = {}) {
  const file = writeTokensFile(content);
  const config = testConfig(main.url, { CACHEGATE_TOKENS_FILE: file, ...env });
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const app = await buildApp(config, { logger });
  started.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  await waitFor(() => app.backend.isReady, 10_000, 'gateway never connected to its main Redis');
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const request = (path: string, token: string | null, init: RequestInit = {}): Promise<TestResponse> =>
    fetch(`${base}${path}`, {
      ...init,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...init.headers },
    });
  const command = (token: string, body: unknown, path = '/') =>
    request(path, token, { method: 'POST', body: JSON.stringify(body) });
  /** Each database's state by name, from `cachegate_database_state` (the public /health only counts them). */
  const states = async (): Promise<Record<string, string>> => {
    const text = await (await request('/metrics', TOKENS.admin)).text();
    const current = text.matchAll(/^cachegate_database_state\{database="([^"]+)",state="([a-z]+)"\} 1$/gm);
    return Object.fromEntries([...current].map((match) => [match[1], match[2]]));
  };
  return { app, config, file, logs, request, command, states };
}

/** Connections to `redis` other than the one asking. */
async function gatewayClients(redis: TestRedis): Promise<number> {
  const info = String(await redis.command('INFO', 'clients'));
  return Number(/connected_clients:(\d+)/.exec(info)?.[1]) - 1;
}

describe('a token with its own redisUrl', () => {
  it('sends every route of that token to its database, and the others to theirs', async () => {
    const gw = await start();
    expect((await gw.command(T.alphaWrite, ['SET', 'k', 'in-alpha'])).status).toBe(200);
    expect((await gw.command(T.beta, ['SET', 'k', 'in-beta'])).status).toBe(200);
    expect((await gw.command(TOKENS.write, ['SET', 'k', 'in-main'])).status).toBe(200);
    expect(await alpha.command('GET', 'k')).toBe('in-alpha');
    expect(await beta.command('GET', 'k')).toBe('in-beta');
    expect(await main.command('GET', 'k')).toBe('in-main');

    // /pipeline, /multi-exec, the path form and the cache API follow the token too.
    expect(
      (
        await gw.command(
          T.beta,
          [
            ['SET', 'p', '1'],
            ['INCR', 'p'],
          ],
          '/pipeline',
        )
      ).status,
    ).toBe(200);
    expect(
      (
        await gw.command(
          T.beta,
          [
            ['SET', 'm', 'x'],
            ['APPEND', 'm', 'y'],
          ],
          '/multi-exec',
        )
      ).status,
    ).toBe(200);
    expect((await gw.request('/set/path/form', T.beta)).status).toBe(200);
    const put = await gw.request('/v1/cache/entry', T.beta, {
      method: 'PUT',
      body: JSON.stringify({ value: { n: 1 } }),
    });
    expect(put.status).toBe(200);
    expect(await beta.command('MGET', 'p', 'm', 'path', 'entry')).toEqual(['2', 'xy', 'form', '{"n":1}']);
    expect(await main.command('EXISTS', 'p', 'm', 'path', 'entry')).toBe(0);
    expect(await alpha.command('EXISTS', 'p', 'm', 'path', 'entry')).toBe(0);

    // Reads come from the token's own database.
    expect((await (await gw.command(T.beta, ['GET', 'k'])).json()).result).toBe('in-beta');
    expect((await (await gw.request('/v1/cache/entry', T.beta)).json()).value).toEqual({ n: 1 });
    expect((await (await gw.command(T.alphaRead, ['GET', 'k'])).json()).result).toBe('in-alpha');
  });

  it('shares one database between a read and a write token, with scopes enforced by its own ACL users', async () => {
    const gw = await start();
    expect((await gw.command(T.alphaWrite, ['SET', 'shared', 'v'])).status).toBe(200);
    expect((await (await gw.command(T.alphaRead, ['GET', 'shared'])).json()).result).toBe('v');
    const denied = await gw.command(T.alphaRead, ['SET', 'shared', 'w']);
    expect(denied.status).toBe(403);
    // The scope users live on alpha, created by the gateway's login there; each token runs as its own.
    const users = String(await alpha.command('ACL', 'USERS'));
    expect(users).toContain('cachegate-read');
    expect(users).toContain('cachegate-write');
    const clients = String(await alpha.command('CLIENT', 'LIST'));
    expect(clients).toContain('user=cachegate-read');
    expect(clients).toContain('user=cachegate-write');
    // Redis holds the read token's scripts to its scope, inside the script.
    const script = await gw.command(T.alphaRead, ['EVAL_RO', "return redis.call('FLUSHALL')", '0']);
    expect((await script.json()).error).toMatch(/can't run this command/);
    expect(await alpha.command('GET', 'shared')).toBe('v');
    // One backend for both tokens: one command connection per scope user, one for the gateway itself.
    expect(String(await alpha.command('ACL', 'USERS'))).not.toContain('cachegate-write-alpha');
  });

  it('connects on first use, not at start, and the first request waits for the connection', async () => {
    const gw = await start();
    await new Promise((done) => setTimeout(done, 300));
    expect(await gatewayClients(alpha)).toBe(0);
    expect(await gw.states()).toEqual({ alpha: 'idle', beta: 'idle' });
    const first = await gw.command(T.alphaWrite, ['SET', 'lazy', '1']);
    expect(first.status).toBe(200);
    expect(await gatewayClients(alpha)).toBeGreaterThan(0);
    expect(await gatewayClients(beta)).toBe(0);
    expect(await gw.states()).toEqual({ alpha: 'up', beta: 'idle' });
  });

  it('refuses MONITOR to a database admin: it would show every database of the server', async () => {
    const gw = await start([
      ...entries(),
      { name: 'alpha-admin', token: T.alphaAdmin, scope: 'admin', database: 'alpha' },
    ]);
    const response = await gw.request('/monitor', T.alphaAdmin, {
      method: 'POST',
      headers: { accept: 'text/event-stream' },
    });
    expect(response.status).toBe(403);
    expect((await response.json()).error).toContain('main admin token');
  });

  it('closes an idle database after CACHEGATE_BACKEND_IDLE_MS and reopens it on the next request', async () => {
    const gw = await start(entries(), { CACHEGATE_BACKEND_IDLE_MS: '300' });
    expect((await gw.command(T.alphaWrite, ['SET', 'idle', '1'])).status).toBe(200);
    expect(await gatewayClients(alpha)).toBeGreaterThan(0);
    await waitFor(
      async () => (await gatewayClients(alpha)) === 0,
      5_000,
      'the idle database stayed connected',
    );
    expect((await gw.states()).alpha).toBe('idle');
    expect((await (await gw.command(T.alphaRead, ['GET', 'idle'])).json()).result).toBe('1');
    // The main Redis is never closed for idleness.
    expect(gw.app.backend.isReady).toBe(true);
  });

  it('keeps a database with a live subscription open past the idle time', async () => {
    const gw = await start(entries(), { CACHEGATE_BACKEND_IDLE_MS: '200' });
    const controller = new AbortController();
    const response = await gw.request('/subscribe/news', T.alphaWrite, { signal: controller.signal });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const received = (async () => {
      while (!text.includes('message,news,hello')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    })();
    await waitFor(() => text.includes('subscribe,news,1'), 5_000, 'never subscribed');
    await new Promise((done) => setTimeout(done, 600));
    // Published straight to alpha, in alpha's channel namespace: the stream is alpha's, and survived the
    // idle time.
    expect(await alpha.command('PUBLISH', 'cachegate:alpha:news', 'hello')).toBe(1);
    await received;
    expect(text).toContain('data: message,news,hello');
    controller.abort();
    await waitFor(async () => (await gatewayClients(alpha)) === 0, 5_000, 'not closed once the stream ended');
  });
});

describe('a database that is down', () => {
  it('answers its own tokens with fast 503s and leaves the other tokens at 100 % success', async () => {
    const gw = await start(entries(), { CACHEGATE_COMMAND_TIMEOUT_MS: '5000' });
    for (const token of [T.alphaWrite, T.beta, TOKENS.write])
      expect((await gw.command(token, ['SET', 'before', '1'])).status).toBe(200);
    await beta.stop();
    try {
      await waitFor(() => gw.states().then((states) => states.beta === 'down'), 5_000, 'beta not seen down');
      const others: number[] = [];
      const down: { status: number; ms: number; error: string }[] = [];
      for (let round = 0; round < 20; round++) {
        const sent = performance.now();
        const [a, m, b] = await Promise.all([
          gw.command(T.alphaWrite, ['INCR', 'n']),
          gw.command(TOKENS.write, ['INCR', 'n']),
          gw.command(T.beta, ['INCR', 'n']),
        ]);
        others.push(a.status, m.status);
        down.push({ status: b.status, ms: performance.now() - sent, error: (await b.json()).error });
      }
      expect(others.every((status) => status === 200)).toBe(true);
      expect(await alpha.command('GET', 'n')).toBe('20');
      expect(await main.command('GET', 'n')).toBe('20');
      for (const answer of down) {
        expect(answer.status).toBe(503);
        expect(answer.error).toBe('Redis database "beta" is unavailable');
        // Fast: far sooner than the 5 s command timeout (no waiting for a dead server).
        expect(answer.ms).toBeLessThan(2_500);
      }
      const health = await gw.request('/health', null);
      expect(health.status).toBe(200);
      expect((await gw.request('/readyz', null)).status).toBe(200);
      const body = await health.text();
      // Public: how many databases are in each state, never their names.
      expect(JSON.parse(body).databases).toEqual({ idle: 0, connecting: 0, up: 1, down: 1 });
      expect(body).not.toMatch(/alpha|beta/);
      expect(body).not.toContain(PASSWORD);
      expect(await gw.states()).toEqual({ alpha: 'up', beta: 'down' });
      expect(await (await gw.request('/metrics', TOKENS.admin)).text()).not.toContain(PASSWORD);
      expect(gw.logs.join('')).not.toContain(PASSWORD);
    } finally {
      beta = await beta.restart();
    }
    // Back by itself, without a restart of the gateway (its scope users re-created on the new process).
    await waitFor(
      async () => (await gw.command(T.beta, ['SET', 'after', '1'])).status === 200,
      10_000,
      'beta never recovered',
    );
    expect(await beta.command('GET', 'after')).toBe('1');
  });

  it('fails fast on first use too, when its Redis was never reachable', async () => {
    const port = await freePort();
    const gw = await start(
      [{ name: 'nowhere', token: T.beta, scope: 'write', redisUrl: `redis://:pw@127.0.0.1:${port}` }],
      { CACHEGATE_COMMAND_TIMEOUT_MS: '5000' },
    );
    const sent = performance.now();
    const response = await gw.command(T.beta, ['GET', 'k']);
    expect(response.status).toBe(503);
    expect(performance.now() - sent).toBeLessThan(2_500);
    expect(await gw.states()).toEqual({ nowhere: 'down' });
    expect((await gw.command(TOKENS.write, ['GET', 'k'])).status).toBe(200);
  });
});

describe('metrics and rate limits', () => {
  it('labels command series with the database name, never its URL', async () => {
    const gw = await start();
    await gw.command(T.alphaWrite, ['SET', 'k', '1']);
    await gw.command(T.beta, ['SET', 'k', '1']);
    await gw.command(TOKENS.write, ['SET', 'k', '1']);
    const text = await (await gw.request('/metrics', TOKENS.admin)).text();
    for (const database of ['alpha', 'beta', 'default'])
      expect(text).toMatch(
        new RegExp(
          `cachegate_redis_command_duration_seconds_count\\{command="set",database="${database}"\\} 1`,
        ),
      );
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('redis://');
    expect(text).not.toContain(`:${beta.port}`);
  });

  it('counts rate limits of database tokens in the main Redis (CACHEGATE_RATE_LIMIT_STORE=redis)', async () => {
    const limited = entries().map((entry) => ({ ...entry, rateLimit: '2/1m' }));
    const gw = await start(limited, { CACHEGATE_RATE_LIMIT_STORE: 'redis' });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await gw.command(T.beta, ['GET', 'k'])).status);
    expect(statuses).toEqual([200, 200, 429]);
    expect(await main.command('KEYS', 'cachegate:ratelimit:beta:*')).toHaveLength(1);
    expect(await beta.command('KEYS', 'cachegate:ratelimit:*')).toEqual([]);
  });
});

describe('reloading the tokens file', () => {
  it('adds new databases and closes removed ones after their in-flight requests', async () => {
    const [alphaWrite, alphaRead] = entries();
    const gw = await start([alphaWrite, alphaRead]);
    expect((await gw.command(T.beta, ['GET', 'k'])).status).toBe(401);
    expect((await gw.command(T.alphaWrite, ['SET', 'k', 'a'])).status).toBe(200);

    // A slow script in flight on alpha when a reload removes it: it still gets its answer.
    const slow = gw.command(T.alphaWrite, [
      'EVAL',
      "local t = redis.call('TIME') local e = t[1] * 1000000 + t[2] + 300000 while true do local n = redis.call('TIME') if n[1] * 1000000 + n[2] > e then break end end return 'done'",
      '0',
    ]);
    await new Promise((done) => setTimeout(done, 50));
    gw.app.reloadTokens(TokenStore.load(gw.config, writeTokensFile(entries().slice(2))));
    expect((await (await slow).json()).result).toBe('done');
    expect((await gw.command(T.alphaWrite, ['GET', 'k'])).status).toBe(401);
    await waitFor(async () => (await gatewayClients(alpha)) === 0, 5_000, 'the removed database stayed open');

    expect((await gw.command(T.beta, ['SET', 'k', 'b'])).status).toBe(200);
    expect(await beta.command('GET', 'k')).toBe('b');
    expect(await gw.states()).toEqual({ beta: 'up' });
  });

  it('follows SIGHUP in the real process', async () => {
    const file = writeTokensFile(entries().slice(0, 1));
    const gateway = await spawnReadyGateway({
      REDIS_URL: main.url,
      CACHEGATE_TOKEN: TOKENS.write,
      CACHEGATE_TOKENS_FILE: file,
    });
    const status = async (token: string) =>
      (await fetch(`${gateway.base}/set/k/v`, { headers: { authorization: `Bearer ${token}` } })).status;
    try {
      expect(await status(T.alphaWrite)).toBe(200);
      expect(await status(T.beta)).toBe(401);
      writeFileSync(file, JSON.stringify(entries()));
      gateway.child.kill('SIGHUP');
      await waitFor(async () => (await status(T.beta)) === 200, 5_000, 'beta never appeared');
      expect(await beta.command('GET', 'k')).toBe('v');
      expect(await alpha.command('GET', 'k')).toBe('v');
      expect(gateway.output()).not.toContain(PASSWORD);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  });
});
