import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, spawnReadyGateway, TOKENS } from '../helpers/gateway.js';
import { attacked, call, type Watched } from '../helpers/invariants.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// Issue 21, classes 1, 4 and 8, against the real `cachegate` process with its default budgets. Invariants
// (docs/security.md): a read token cannot take the process down or its memory past its bound (I1, I4);
// whatever it asks, another caller is served within 2 s (I5); every reservation is given back (I3); what
// the gateway says ran is what ran (I7).
let redis: TestRedis;
let gateway: GatewayProcess & { base: string };
let watched: Watched;
const MB = 1024 * 1024;

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await spawnReadyGateway({
    CACHEGATE_REDIS_URL: redis.url,
    CACHEGATE_TOKEN: TOKENS.write,
    CACHEGATE_READONLY_TOKEN: TOKENS.read,
    CACHEGATE_ADMIN_TOKEN: TOKENS.admin,
    CACHEGATE_SEND_TIMEOUT_MS: '1000',
    // The test machine runs many suites at once: a starved event loop must not shed the victim here.
    CACHEGATE_MAX_EVENT_LOOP_DELAY_MS: '0',
    NODE_ENV: 'production',
  });
  watched = { base: gateway.base, pid: gateway.child.pid as number, adminToken: TOKENS.admin };
  await redis.command('SET', 'canary', 'still here');
  // 2,000,000 one-byte items: 14 MB on the wire, over 200 MB once made into objects.
  await redis.command(
    'EVAL',
    "local t = {} for i = 1, 4000 do t[i] = 'x' end for i = 1, 500 do redis.call('RPUSH', KEYS[1], unpack(t)) end",
    '1',
    'L',
  );
  // One tiny write makes 15 MB of NULs, each of which JSON writes as six bytes.
  await redis.command('SETRANGE', 'big', '15000000', 'x');
  await redis.command('SET', 'mb', 'v'.repeat(MB));
}, 60_000);
/** Sockets the attacks leave open on their side, paused: the gateway must close them itself. */
const left: Socket[] = [];
afterEach(() => {
  for (const socket of left.splice(0)) socket.destroy();
});
afterAll(async () => {
  gateway?.child.kill('SIGKILL');
  await redis?.stop();
});

/** A request on a connection of its own, so that none of the attack's connections outlives it. */
const send = (
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
) =>
  call(gateway.base, path, {
    token: options.token ?? TOKENS.read,
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { method: 'POST', body: JSON.stringify(options.body) }),
  });
const json = (answer: { text: string }) => JSON.parse(answer.text);

const underAttack = (attack: () => Promise<unknown>) =>
  attacked(watched, { path: '/get/canary', token: TOKENS.write, expected: 'still here' }, attack);

describe('replies that are small on the wire and large in memory (class 1)', () => {
  it('answers 40 LRANGEs of 2,000,000 items with their errors, three pipelines at once, and stays up', async () => {
    await underAttack(async () => {
      const lranges = Array.from({ length: 40 }, () => ['LRANGE', 'L', '0', '-1']);
      const answers = await Promise.all(
        [1, 2, 3].map(() => send('/pipeline', { body: lranges, headers: { 'upstash-encoding': 'base64' } })),
      );
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        const items = json(answer);
        expect(items).toHaveLength(40);
        for (const item of items) expect(item.error).toContain('counting 64 bytes per value');
      }
    });
    // A range of it that fits is served.
    const part = await send('/', { body: ['LRANGE', 'L', '0', '99999'] });
    expect(json(part).result).toHaveLength(100_000);
  }, 60_000);
});

describe('answers that grow on the way out (class 4)', () => {
  it('refuses a value whose JSON would be six times its size, serves it in base64, and stays up', async () => {
    await underAttack(async () => {
      for (let round = 0; round < 3; round++) {
        const text = await send('/get/big');
        expect(text.status).toBe(400);
        expect(text.headers['cachegate-error-code']).toBe('CG_ERR_REPLY_TOO_LARGE');
        expect(json(text).error).toContain('CACHEGATE_MAX_ANSWER_BYTES');
        const base64 = await send('/get/big', { headers: { 'upstash-encoding': 'base64' } });
        const value = Buffer.from(json(base64).result, 'base64');
        expect(value.length).toBe(15_000_001);
        expect(value.at(-1)).toBe(120);
        const six = await send('/pipeline', { body: Array(6).fill(['GET', 'big']) });
        expect(six.status).toBe(200);
        for (const item of json(six)) expect(item.error).toContain('CACHEGATE_MAX_ANSWER_BYTES');
      }
    });
  }, 60_000);

  it('closes a connection that never reads its answer, and gives back what the answer held', async () => {
    await underAttack(async () => {
      const port = Number(new URL(gateway.base).port);
      const socket = await new Promise<Socket>((resolve) => {
        const opened = connect({ host: '127.0.0.1', port }, () => resolve(opened));
      });
      socket.on('error', () => undefined);
      const body = JSON.stringify(Array(20).fill(['GET', 'mb']));
      socket.write(
        `POST /pipeline HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.read}\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
      );
      socket.pause();
      // Past CACHEGATE_SEND_TIMEOUT_MS (1 s here): the invariants then find its connection gone on the
      // gateway's side (a paused socket never sees its own end) and its answer's memory given back.
      await new Promise((done) => setTimeout(done, 1500));
      left.push(socket);
    });
  }, 30_000);

  it('ends the stream of a subscriber that does not read, before a 10 MB message of line breaks is made into an event', async () => {
    await underAttack(async () => {
      const port = Number(new URL(gateway.base).port);
      const socket = await new Promise<Socket>((resolve) => {
        const opened = connect({ host: '127.0.0.1', port }, () => resolve(opened));
      });
      socket.on('error', () => undefined);
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      socket.write(
        `GET /subscribe/flood HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.read}\r\n\r\n`,
      );
      const deadline = Date.now() + 5000;
      while (!text.includes('subscribe,flood,1') && Date.now() < deadline)
        await new Promise((done) => setTimeout(done, 20));
      socket.pause();
      expect(await redis.command('PUBLISH', 'flood', '\n'.repeat(10 * MB))).toBe(1);
      // The invariants find the stream, its subscription and its connection gone on the gateway's side.
      left.push(socket);
    });
  }, 30_000);
});

describe('JSON that is small as text and large as objects (adversarial review, round 2)', () => {
  // 9.9 MB of `[{},{},...]`: 3.3 million empty objects, some fifty bytes of heap each once parsed.
  const objects = `[${Array(3_300_000).fill('{}').join(',')}]`;

  it('refuses such bodies before parsing them, on every route, and stays up', async () => {
    await underAttack(async () => {
      for (let round = 0; round < 3; round++) {
        for (const [path, body, status] of [
          ['/', objects, 400],
          ['/pipeline', objects, 400],
          ['/v1/cache/mget', `{"keys":${objects}}`, 413],
        ] as const) {
          const answer = await call(gateway.base, path, { token: TOKENS.read, method: 'POST', body });
          expect({ path, status: answer.status }).toEqual({ path, status });
        }
        const put = await call(gateway.base, '/v1/cache/objs', {
          token: TOKENS.write,
          method: 'PUT',
          body: `{"value":${objects}}`,
        });
        expect(put.status).toBe(413);
        expect(json(put).error.message).toContain('too many JSON values');
      }
    });
  }, 60_000);

  it('serves such a stored value as it is, without parsing it', async () => {
    await redis.command('SET', 'objs', objects);
    await underAttack(async () => {
      for (let round = 0; round < 3; round++) {
        const answer = await send('/v1/cache/objs');
        expect(answer.status).toBe(200);
        expect(answer.text.length).toBeGreaterThan(objects.length);
      }
    });
    await redis.command('DEL', 'objs');
  }, 60_000);
});

describe('what the gateway says ran (class 8)', () => {
  it('reports a transaction whose reply is too large as ran, never as discarded', async () => {
    await redis.command('DEL', 'txctr');
    const answer = await send('/multi-exec', {
      token: TOKENS.write,
      body: [
        ['INCR', 'txctr'],
        ['GET', 'big'],
        ['GET', 'big'],
      ],
    });
    expect(answer.status).toBe(400);
    expect(answer.headers['cachegate-error-code']).toBe('CG_ERR_REPLY_TOO_LARGE');
    expect(answer.headers['cachegate-executed']).toBeUndefined();
    expect(await redis.command('GET', 'txctr')).toBe('1');
  });

  it('reports a transaction whose script returned a table too deep as ran', async () => {
    await redis.command('DEL', 'txctr');
    const deep = 'local t={} local c=t for i=1,600 do local n={} c[1]=n c=n end return t';
    const answer = await send('/multi-exec', {
      token: TOKENS.write,
      body: [
        ['INCR', 'txctr'],
        ['EVAL', deep, '0'],
      ],
    });
    expect(answer.status).toBe(400);
    expect(answer.headers['cachegate-executed']).toBeUndefined();
    expect(json(answer).error).toContain('nested more than');
    expect(await redis.command('GET', 'txctr')).toBe('1');
  });

  it('still says "not run" for a transaction Redis discarded', async () => {
    await redis.command('DEL', 'txctr');
    const answer = await send('/multi-exec', {
      token: TOKENS.write,
      body: [['INCR', 'txctr'], ['NOSUCHCOMMAND']],
    });
    expect(answer.status).toBe(400);
    expect(answer.headers['cachegate-executed']).toBe('no');
    expect(await redis.command('EXISTS', 'txctr')).toBe(0);
    const { status } = await call(gateway.base, '/readyz');
    expect(status).toBe(200);
  });
});
