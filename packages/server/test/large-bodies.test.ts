import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type GatewayProcess,
  spawnReadyGateway,
  startGateway,
  type TestGateway,
  TOKENS,
  waitFor,
} from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

// Issue 13, item 6: the default body limit is Upstash's 10 MB (read as 10 MiB), and memory stays bounded
// however many large bodies arrive at once (CACHEGATE_MAX_BUFFERED_BODY_BYTES).
const LIMIT = 10 * 1024 * 1024;
const headers = { authorization: `Bearer ${TOKENS.write}` };
const auth = `Authorization: Bearer ${TOKENS.write}\r\n`;

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  await redis.command('FLUSHALL');
});

/** `["SET","<key>","vvv..."]`, exactly `bytes` long. */
function setBody(key: string, bytes: number): string {
  const frame = `["SET","${key}",""]`;
  return `["SET","${key}","${'v'.repeat(bytes - frame.length)}"]`;
}

/** Sends a chunked body (no Content-Length) and resolves with the status. */
function sendChunked(base: string, path: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'POST', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (let i = 0; i < body.length; i += 1 << 20) req.write(body.subarray(i, i + (1 << 20)));
    req.end();
  });
}

describe('the default body limit, on a gateway process', () => {
  let gateway: (GatewayProcess & { base: string }) | undefined;
  beforeAll(async () => {
    // Defaults: CACHEGATE_MAX_BODY_BYTES and CACHEGATE_MAX_BUFFERED_BODY_BYTES unset.
    gateway = await spawnReadyGateway({ CACHEGATE_REDIS_URL: redis.url, CACHEGATE_TOKEN: TOKENS.write });
  });
  afterAll(() => {
    gateway?.child.kill('SIGKILL');
  });
  const base = () => gateway?.base ?? '';
  const rssMb = () =>
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gateway?.child.pid}/status`, 'utf8'))?.[1]) / 1024;

  it('serves ten concurrent 10 MiB SETs (POST / and the path form) within a bounded amount of memory', async () => {
    const json = (i: number) => setBody(`k${i}`, LIMIT);
    const raw = Buffer.alloc(LIMIT, 'r');
    const send = (i: number) =>
      i % 2 === 0
        ? fetch(`${base()}/`, { method: 'POST', headers, body: json(i) })
        : fetch(`${base()}/set/k${i}`, { method: 'POST', headers, body: raw });
    // Warm up, so that the baseline holds what serving large bodies one at a time leaves behind.
    for (let i = 0; i < 10; i++) expect((await send(i)).status).toBe(200);
    const baseline = rssMb();
    let peak = baseline;
    const poll = setInterval(() => {
      peak = Math.max(peak, rssMb());
    }, 10);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => send(i).then(async (r) => `${r.status} ${await r.text()}`)),
    );
    clearInterval(poll);
    expect(answers).toEqual(new Array(10).fill('200 {"result":"OK"}'));
    for (let i = 0; i < 10; i++) {
      expect(await redis.command('STRLEN', `k${i}`)).toBe(i % 2 === 0 ? LIMIT - 15 : LIMIT);
    }
    // Each 10 MiB body is held about five times over while it is served (bytes, text, parsed value, RESP
    // to Redis). All ten at once (the budget off) took +270..+360 MB; within the default 32 MiB budget,
    // three at a time, +70..+160 MB.
    expect(peak - baseline).toBeLessThan(200);
    console.log(
      `RSS: baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB under ten concurrent 10 MiB SETs`,
    );
  }, 60_000);

  it('answers 413 to a body one byte over the limit, and runs nothing', async () => {
    const json = await fetch(`${base()}/`, { method: 'POST', headers, body: setBody('over', LIMIT + 1) });
    expect(json.status).toBe(413);
    expect(await json.json()).toEqual({ error: expect.stringContaining('CACHEGATE_MAX_BODY_BYTES') });
    const path = await fetch(`${base()}/set/over`, {
      method: 'POST',
      headers,
      body: Buffer.alloc(LIMIT + 1),
    });
    expect(path.status).toBe(413);
    // Without a Content-Length, the limit is counted as the bytes arrive.
    expect(await sendChunked(base(), '/set/over', Buffer.alloc(LIMIT + 1))).toBe(413);
    expect(await redis.command('EXISTS', 'over')).toBe(0);
    // At the limit exactly, chunked too.
    expect(await sendChunked(base(), '/set/at', Buffer.alloc(LIMIT, 'a'))).toBe(200);
    expect(await redis.command('STRLEN', 'at')).toBe(LIMIT);
  }, 60_000);

  it('reads and drops a body up to twice the limit after its 413, and closes on a larger one', async () => {
    const port = Number(new URL(base()).port);
    const exchange = async (declared: number, then: string, expect100 = false) => {
      const socket = connect({ host: '127.0.0.1', port });
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
      });
      const closed = new Promise<void>((done) => socket.on('close', () => done()));
      socket.on('error', () => undefined);
      const expectation = expect100 ? 'Expect: 100-continue\r\n' : '';
      socket.write(
        `POST /set/drop HTTP/1.1\r\nHost: x\r\n${auth}${expectation}Content-Length: ${declared}\r\n\r\n`,
      );
      await waitFor(() => text.includes('\r\n\r\n'), 5000, 'no answer to the oversized body');
      const first = text;
      // The rest of the body, then a request on the same connection.
      if (!socket.destroyed) socket.write(Buffer.alloc(declared, 'd'));
      if (!socket.destroyed) socket.write(then);
      await Promise.race([closed, waitFor(() => text.includes('"result"'), 10_000, 'no second answer')]);
      socket.destroy();
      return { first, text };
    };
    const next = `GET /echo/after HTTP/1.1\r\nHost: x\r\n${auth}\r\n`;
    const drained = await exchange(Math.floor(1.5 * LIMIT), next);
    expect(drained.first).toMatch(/^HTTP\/1.1 413 /);
    expect(drained.first.toLowerCase()).not.toContain('connection: close');
    expect(drained.text).toContain('{"result":"after"}');
    const closed = await exchange(3 * LIMIT, next);
    expect(closed.first).toMatch(/^HTTP\/1.1 413 /);
    expect(closed.first.toLowerCase()).toContain('connection: close');
    expect(closed.text).not.toContain('"result"');
    // A body never asked for (Expect: 100-continue) is not awaited: the connection closes.
    const unasked = await exchange(Math.floor(1.5 * LIMIT), next, true);
    expect(unasked.first).toMatch(/^HTTP\/1.1 413 /);
    expect(unasked.first.toLowerCase()).toContain('connection: close');
    expect(await redis.command('EXISTS', 'drop')).toBe(0);
  }, 60_000);
});

describe('CACHEGATE_MAX_BUFFERED_BODY_BYTES', () => {
  let gateway: TestGateway;
  let port: number;
  beforeAll(async () => {
    gateway = await startGateway(redis.url, { CACHEGATE_MAX_BUFFERED_BODY_BYTES: '1024' });
    port = Number(new URL(gateway.url).port);
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const open = () =>
    new Promise<Socket>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
      socket.on('error', () => undefined);
    });
  /** Starts `SET <key> <value>` with a Content-Length body, sending only its first `sent` bytes. */
  async function startSet(key: string, value: string, sent: number) {
    const socket = await open();
    const body = JSON.stringify(['SET', key, value]);
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
    });
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: ${body.length}\r\n\r\n`);
    socket.write(body.slice(0, sent));
    return { socket, rest: () => socket.write(body.slice(sent)), answer: () => answer };
  }
  const tick = (ms: number) => new Promise((done) => setTimeout(done, ms));

  it('makes a body wait, unread, while earlier bodies hold the budget, and serves it after them', async () => {
    const first = await startSet('first', 'f'.repeat(900), 10);
    await tick(100);
    // 900 + 100 bytes are over 1024: the second waits for the first, though its body is all there.
    const second = await startSet('second', 's'.repeat(100), Number.POSITIVE_INFINITY);
    await tick(300);
    expect(second.answer()).toBe('');
    expect(await redis.command('EXISTS', 'second')).toBe(0);
    first.rest();
    await waitFor(() => second.answer().includes('{"result":"OK"}'), 5000, 'the second was never served');
    expect(first.answer()).toContain('{"result":"OK"}');
    expect(await redis.command('MGET', 'first', 'second')).toEqual(['f'.repeat(900), 's'.repeat(100)]);
    first.socket.destroy();
    second.socket.destroy();
  });

  it('gives back the budget of a request whose client goes away, holding or waiting', async () => {
    const holding = await startSet('holding', 'h'.repeat(900), 10);
    await tick(100);
    const waiting = await startSet('waiting', 'w'.repeat(900), 10);
    await tick(100);
    waiting.socket.destroy();
    holding.socket.destroy();
    await waitFor(() => gateway.app.inFlight() === 0, 5000, `in flight stayed at ${gateway.app.inFlight()}`);
    // Had either kept its share, this one would wait forever.
    const after = await gateway.request('/', {
      method: 'POST',
      body: JSON.stringify(['SET', 'k', 'x'.repeat(900)]),
    });
    expect(await after.json()).toEqual({ result: 'OK' });
    expect(await redis.command('EXISTS', 'holding', 'waiting')).toBe(0);
  });
});
