import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, TOKENS } from '../helpers/gateway.js';
import { call, expectInvariants, rssMb, startVictim, type Watched } from '../helpers/invariants.js';
import { directCommand, startTestRedis, type TestRedis } from '../helpers/redis.js';

// Issue 21, item 11: property-based sequences of hostile operations, by every kind of token and by tenants
// of one server, run at once; after every case, the invariants of docs/security.md: the same process
// serving, every gauge back to zero, RSS under its bound, a victim served within 2 s, every tenant's data
// intact. FUZZ_RUNS sets the number of cases (CI runs a handful; run it longer by hand).
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const TENANT = { one: 'fuzz-tenant-one-token-0123456789', two: 'fuzz-tenant-two-token-0123456789' };
let redis: TestRedis;
let gateway: TestGateway;
let watched: Watched;
let dir: string;
const url = (db: number) => `${redis.url}/${db}`;

beforeAll(async () => {
  redis = await startTestRedis();
  dir = mkdtempSync(join(tmpdir(), 'cachegate-fuzz-'));
  const tokensFile = join(dir, 'tokens.json');
  writeFileSync(
    tokensFile,
    JSON.stringify([
      { name: 'one', token: TENANT.one, scope: 'write', redisUrl: url(1) },
      { name: 'two', token: TENANT.two, scope: 'write', redisUrl: url(2) },
    ]),
  );
  gateway = await startGateway(redis.url, {
    CACHEGATE_TOKENS_FILE: tokensFile,
    CACHEGATE_SEND_TIMEOUT_MS: '500',
    CACHEGATE_REQUEST_TIMEOUT_MS: '1000',
    CACHEGATE_MAX_REPLY_BYTES: String(4 * 1024 * 1024),
    CACHEGATE_MAX_ANSWER_BYTES: String(8 * 1024 * 1024),
    CACHEGATE_MAX_BUFFERED_REPLY_BYTES: String(16 * 1024 * 1024),
    CACHEGATE_NEAR_CACHE: 'on',
  });
  watched = { base: gateway.url, pid: process.pid, adminToken: TOKENS.admin };
  for (const db of [0, 1, 2]) {
    await directCommand(url(db), ['SET', 'canary', `canary of ${db}`]);
    await directCommand(url(db), ['SETRANGE', 'nul', String(3 * 1024 * 1024), 'x']);
    await directCommand(url(db), [
      'EVAL',
      "local t = {} for i = 1, 4000 do t[i] = 'x' end for i = 1, 50 do redis.call('RPUSH', KEYS[1], unpack(t)) end",
      '1',
      'list',
    ]);
  }
}, 60_000);
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const tokens = fc.constantFrom<string>(TOKENS.read, TOKENS.write, TENANT.one, TENANT.two);
const encodings = fc.constantFrom<Record<string, string>>({}, { 'upstash-encoding': 'base64' });

/** A raw connection, given `stay` ms before it is reset (an attacker who walks away). */
async function raw(text: string, stay: number, pause = false) {
  const socket = await new Promise<Socket>((resolve) => {
    const opened = connect({ host: '127.0.0.1', port: Number(new URL(gateway.url).port) }, () =>
      resolve(opened),
    );
    opened.on('error', () => undefined);
  });
  if (pause) socket.pause();
  else socket.resume();
  socket.write(text);
  await new Promise((done) => setTimeout(done, stay));
  socket.destroy();
}

const post = (token: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  call(gateway.url, path, { token, method: 'POST', body: JSON.stringify(body), headers });

/** One hostile operation: runs to its end (or its caller's walking away), whatever it is answered. */
const operation = fc.oneof(
  fc.tuple(tokens, encodings, fc.integer({ min: 1, max: 12 })).map(
    ([token, headers, n]) =>
      () =>
        post(token, '/pipeline', Array(n).fill(['LRANGE', 'list', '0', '-1']), headers),
  ),
  fc.tuple(tokens, encodings, fc.integer({ min: 1, max: 6 })).map(
    ([token, headers, n]) =>
      () =>
        post(token, '/pipeline', Array(n).fill(['GET', 'nul']), headers),
  ),
  fc.tuple(tokens, fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 50 })).map(
    ([token, channels, stay]) =>
      () =>
        raw(
          `GET /subscribe/${Array.from({ length: channels }, (_, i) => `f${i}`).join('/')} HTTP/1.1\r\n` +
            `Host: x\r\nAuthorization: Bearer ${token}\r\n\r\n`,
          stay,
        ),
  ),
  fc.tuple(fc.constantFrom('/livez', '/', '/pipeline'), tokens, fc.integer({ min: 0, max: 80 })).map(
    ([path, token, stay]) =>
      () =>
        raw(
          `${path === '/livez' ? 'GET' : 'POST'} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
            'Transfer-Encoding: chunked\r\n\r\n5\r\n[["GE',
          stay,
        ),
  ),
  fc.tuple(tokens, fc.integer({ min: 0, max: 600 })).map(
    ([token, stay]) =>
      () =>
        raw(
          `GET /get/nul HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nUpstash-Encoding: base64\r\n\r\n`,
          stay,
          true,
        ),
  ),
  fc.tuple(tokens, fc.constantFrom(1, 2)).map(
    ([token, db]) =>
      () =>
        post(token, '/', [
          'EVAL',
          `redis.call('SELECT', ${db}) return redis.call('SET', 'canary', 'taken')`,
          '0',
        ]),
  ),
  fc
    .tuple(
      tokens,
      fc.constantFrom(['MOVE', 'canary', '2'], ['COPY', 'canary', 'canary', 'DB', '1', 'REPLACE']),
    )
    .map(
      ([token, command]) =>
        () =>
          post(token, '/', command),
    ),
  fc.tuple(tokens, fc.string({ maxLength: 30 })).map(
    ([token, junk]) =>
      () =>
        raw(
          `GET /${encodeURIComponent(junk)} HTTP/1.1\r\nAuthorization: Bearer ${token}\r\nX: \u0000\r\n\r\n`,
          10,
        ),
  ),
  fc.tuple(tokens, fc.string({ maxLength: 10 })).map(
    ([token, message]) =>
      () =>
        post(token, '/', ['PUBLISH', 'f1', message]),
  ),
);

describe('sequences of hostile operations across tokens and tenants', () => {
  it('keep every invariant after every case', async () => {
    let worstRss = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 5 }), async (operations) => {
        const victim = startVictim(watched, '/get/canary', TOKENS.write, 'canary of 0');
        await Promise.all(operations.map((run) => run().catch(() => undefined)));
        const report = await victim.stop();
        worstRss = Math.max(worstRss, report.peakRssMb);
        await expectInvariants(watched, report, { maxRssMb: 1024 });
        for (const db of [0, 1, 2])
          expect(await directCommand(url(db), ['GET', 'canary'])).toBe(`canary of ${db}`);
        expect(await directCommand(url(2), ['EXISTS', 'list'])).toBe(1);
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 21) },
    );
    console.log(
      `${RUNS} cases; peak RSS of the test process ${worstRss.toFixed(0)} MB (now ${rssMb(process.pid).toFixed(0)} MB)`,
    );
  }, 240_000);
});
