import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, TOKENS, waitFor } from '../helpers/gateway.js';
import { attacked, call, type Watched } from '../helpers/invariants.js';
import { directCommand, startTestRedis, type TestRedis } from '../helpers/redis.js';

// Issue 21, class 3: tenants on databases 1 and 2 of the main Redis server (password-protected, one
// password for all, as SRH's tokens file lays them out). Invariant (docs/security.md, I5): no token reaches
// another database's keys, channels or metrics, not through scripts either; the main database's tokens no
// more reach the tenants than the tenants reach them.
const PASSWORD = 'shared-server-password-0123';
const T = {
  oneWrite: 'tenant-one-write-token-0123456789',
  oneRead: 'tenant-one-read-token-0123456789',
  oneAdmin: 'tenant-one-admin-token-0123456789',
  twoWrite: 'tenant-two-write-token-0123456789',
} as const;
let redis: TestRedis;
let gateway: TestGateway;
let watched: Watched;
let dir: string;

const url = (db: number) => `redis://:${PASSWORD}@127.0.0.1:${redis.port}/${db}`;
const inDb = (db: number, ...args: string[]) => directCommand(url(db), args);

beforeAll(async () => {
  redis = await startTestRedis({ password: PASSWORD });
  dir = mkdtempSync(join(tmpdir(), 'cachegate-tenants-'));
  const tokensFile = join(dir, 'tokens.json');
  writeFileSync(
    tokensFile,
    JSON.stringify([
      { name: 'one-write', token: T.oneWrite, scope: 'write', database: 'one', redisUrl: url(1) },
      { name: 'one-read', token: T.oneRead, scope: 'read', database: 'one' },
      { name: 'one-admin', token: T.oneAdmin, scope: 'admin', database: 'one' },
      { name: 'two-write', token: T.twoWrite, scope: 'write', database: 'two', redisUrl: url(2) },
    ]),
  );
  gateway = await startGateway(url(0), { CACHEGATE_TOKENS_FILE: tokensFile });
  watched = { base: gateway.url, pid: process.pid, adminToken: TOKENS.admin };
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await inDb(0, 'FLUSHALL');
  await inDb(0, 'SET', 'm0', 'main data');
  await inDb(1, 'SET', 'k', 'one data');
  await inDb(2, 'SET', 'b-secret', 'two data');
});

const run = async (token: string, command: string[]) => {
  const answer = await call(gateway.url, '/', { token, method: 'POST', body: JSON.stringify(command) });
  return { status: answer.status, body: JSON.parse(answer.text) };
};

/** Every database still holds exactly its own data. */
async function expectIntact() {
  expect(await inDb(0, 'KEYS', '*')).toEqual(['m0']);
  expect(await inDb(1, 'KEYS', '*')).toEqual(['k']);
  expect(await inDb(2, 'KEYS', '*')).toEqual(['b-secret']);
  expect(await inDb(2, 'GET', 'b-secret')).toBe('two data');
}

const victim = { path: '/get/b-secret', token: T.twoWrite, expected: 'two data' };

describe("a tenant's token cannot leave its database", () => {
  it('through a script that SELECTs, MOVEs or COPYs, nor directly', async () => {
    await attacked(
      watched,
      victim,
      async () => {
        const attempts: [string, string[]][] = [
          [
            T.oneWrite,
            ['EVAL', "redis.call('SELECT', 2) return redis.call('GET', KEYS[1])", '1', 'b-secret'],
          ],
          [
            T.oneRead,
            ['EVAL_RO', "redis.call('SELECT', 2) return redis.call('GET', KEYS[1])", '1', 'b-secret'],
          ],
          [T.oneWrite, ['MOVE', 'k', '2']],
          [T.oneWrite, ['EVAL', "return redis.call('MOVE', KEYS[1], 2)", '1', 'k']],
          [T.oneWrite, ['COPY', 'k', 'b-secret', 'DB', '2', 'REPLACE']],
          [
            T.oneWrite,
            ['EVAL', "return redis.call('COPY', KEYS[1], KEYS[2], 'DB', 2, 'REPLACE')", '2', 'k', 'b-secret'],
          ],
          [T.oneWrite, ['SWAPDB', '1', '2']],
          [T.oneWrite, ['EVAL', "return redis.call('SWAPDB', 1, 2)", '0']],
          [T.oneAdmin, ['FLUSHALL']],
          [T.oneAdmin, ['EVAL', "return redis.call('FLUSHALL')", '0']],
          [T.oneAdmin, ['SWAPDB', '1', '2']],
          [
            T.oneAdmin,
            ['EVAL', "redis.call('SELECT', 2) return redis.call('GET', KEYS[1])", '1', 'b-secret'],
          ],
          [T.oneAdmin, ['CONFIG', 'GET', 'requirepass']],
          [T.oneAdmin, ['INFO', 'keyspace']],
          [T.oneAdmin, ['MIGRATE', '127.0.0.1', String(redis.port), 'k', '2', '1000']],
          // The main database's write token reaches no tenant either.
          [TOKENS.write, ['MOVE', 'm0', '1']],
          [TOKENS.write, ['EVAL', "return redis.call('MOVE', KEYS[1], 1)", '1', 'm0']],
          [
            TOKENS.write,
            ['EVAL', "redis.call('SELECT', 2) return redis.call('GET', KEYS[1])", '1', 'b-secret'],
          ],
          [TOKENS.write, ['EVAL', "return redis.call('COPY', KEYS[1], KEYS[1], 'DB', 1)", '1', 'm0']],
        ];
        for (const [token, command] of attempts) {
          const { status, body } = await run(token, command);
          expect({ command: command.slice(0, 2), status }).toEqual({
            command: command.slice(0, 2),
            status: status === 403 ? 403 : 400,
          });
          expect(JSON.stringify(body)).not.toContain('two data');
        }
      },
      { maxRssMb: 1024 },
    );
    await expectIntact();
  });

  it('lets a database admin administer its own database, and only it', async () => {
    expect((await run(T.oneAdmin, ['KEYS', '*'])).body).toEqual({ result: ['k'] });
    expect((await run(T.oneAdmin, ['FLUSHDB'])).body).toEqual({ result: 'OK' });
    expect(await inDb(1, 'DBSIZE')).toBe(0);
    expect(await inDb(2, 'GET', 'b-secret')).toBe('two data');
    const monitor = await call(gateway.url, '/monitor', { token: T.oneAdmin, method: 'POST' });
    expect(monitor.status).toBe(403);
  });

  it('keeps COPY within a database: refused by Redis on a server shared with others', async () => {
    const { status, body } = await run(T.oneWrite, ['COPY', 'k', 'k2']);
    expect(status).toBe(400);
    expect(body.error).toContain('NOPERM');
  });
});

describe('pub/sub, per database', () => {
  /** A stream of `token` on `path`; its text grows as events arrive. */
  async function listen(path: string, token: string) {
    const socket = await new Promise<Socket & { text: string }>((resolve) => {
      const opened = connect({ host: '127.0.0.1', port: Number(new URL(gateway.url).port) }, () =>
        resolve(opened as Socket & { text: string }),
      );
    });
    socket.text = '';
    socket.on('data', (chunk: Buffer) => {
      socket.text += chunk.toString();
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    await waitFor(() => socket.text.includes('data: '), 3000, `${path} never opened`);
    return socket;
  }

  it("hears only its own database's messages, and lists only its own channels", async () => {
    const one = await listen('/subscribe/news', T.oneRead);
    const two = await listen('/subscribe/news', T.twoWrite);
    const main = await listen('/psubscribe/*', TOKENS.read);
    // (Redis counts the main token's pattern among the receivers of every message; the gateway drops the
    // tenants' before they reach it.)
    for (const [token, text] of [
      [T.twoWrite, 'for two'],
      [T.oneWrite, 'for one'],
      [TOKENS.write, 'for main'],
    ] as const) {
      expect((await run(token, ['PUBLISH', 'news', text])).status).toBe(200);
    }
    await waitFor(
      () => one.text.includes('for one') && two.text.includes('for two') && main.text.includes('for main'),
      3000,
      'a message was lost',
    );
    await new Promise((done) => setTimeout(done, 100));
    expect(one.text).not.toMatch(/for (two|main)/);
    expect(two.text).not.toMatch(/for (one|main)/);
    expect(main.text).not.toMatch(/for (one|two)|cachegate:/);
    expect(one.text).toContain('data: message,news,for one');
    expect((await run(T.twoWrite, ['PUBSUB', 'CHANNELS'])).body).toEqual({ result: ['news'] });
    expect((await run(T.twoWrite, ['PUBSUB', 'NUMSUB', 'news'])).body).toEqual({ result: ['news', 1] });
    expect((await run(T.twoWrite, ['PUBSUB', 'NUMPAT'])).status).toBe(403);
    expect((await run(TOKENS.write, ['PUBSUB', 'CHANNELS'])).body).toEqual({ result: [] });
    // A tenant's script publishes nowhere but its own channels; the main tokens never into the tenants'.
    expect((await run(T.oneWrite, ['EVAL', "return redis.call('PUBLISH', 'news', 'x')", '0'])).status).toBe(
      400,
    );
    expect((await run(TOKENS.write, ['PUBLISH', 'cachegate:two:news', 'x'])).status).toBe(403);
    for (const socket of [one, two, main]) socket.destroy();
  });

  it('shows /metrics to the main admin only', async () => {
    for (const token of [T.oneAdmin, T.oneWrite, TOKENS.write]) {
      const refused = await call(gateway.url, '/metrics', { token });
      expect(refused.status).toBe(403);
      expect(refused.text).not.toContain('one');
    }
    expect((await call(gateway.url, '/metrics', { token: TOKENS.admin })).text).toContain(
      'cachegate_database_state{database="two"',
    );
  });
});

describe('the body budget, per owner (adversarial review)', () => {
  it("holds a tenant's slow bodies, all its tokens together, to half of it: another caller's POST goes on", async () => {
    const port = Number(new URL(gateway.url).port);
    const sockets: Socket[] = [];
    await attacked(
      watched,
      victim,
      async () => {
        for (const token of [T.oneWrite, T.oneRead, T.oneAdmin]) {
          for (let i = 0; i < 2; i++) {
            const socket = await new Promise<Socket>((resolve) => {
              const opened = connect({ host: '127.0.0.1', port }, () => resolve(opened));
            });
            socket.on('error', () => undefined);
            // A chunked body reserves the 10 MiB it may grow to.
            socket.write(
              `POST /set/k HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
                'Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n',
            );
            sockets.push(socket);
          }
        }
        await new Promise((done) => setTimeout(done, 200));
        for (const token of [TOKENS.write, T.twoWrite]) {
          const started = performance.now();
          const answer = await call(gateway.url, '/', { token, method: 'POST', body: '["PING"]' });
          expect(answer.text).toBe('{"result":"PONG"}');
          expect(performance.now() - started).toBeLessThan(2000);
        }
        return () => {
          for (const socket of sockets) socket.destroy();
        };
      },
      { maxRssMb: 1024 },
    );
  });
});
