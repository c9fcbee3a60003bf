import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, TOKENS, waitFor } from '../helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// Issue 11, part 6: property-based fuzzing of every route. Whatever arrives, the gateway answers without a
// 5xx (Redis is up throughout), does not crash, and keeps serving everyone else correctly.
let redis: TestRedis;
let gateway: TestGateway;
let port: number;
const canary = `canary-${Math.random().toString(16).slice(2)}`;

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startGateway(redis.url, {
    CACHEGATE_MAX_BODY_BYTES: '65536',
    CACHEGATE_MAX_JSON_DEPTH: '64',
  });
  port = Number(new URL(gateway.url).port);
  await redis.command('SET', canary, '"alive"');
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | string;
}

/** Sends a request as given (no client-side normalisation of the path) and returns its status. */
function send({ method, path, headers, body }: Sent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** After every case: no 5xx, and the canary still reads back through the gateway. */
async function check(sent: Sent) {
  const status = await send(sent);
  expect(status, `${sent.method} ${sent.path} -> ${status}`).toBeLessThan(500);
  const response = await gateway.request(`/v1/cache/${canary}`, { token: TOKENS.read });
  expect((await response.json()).value).toBe('alive');
}

const tokens = fc.constantFrom<string | undefined>(
  TOKENS.write,
  TOKENS.read,
  undefined,
  'not-a-token-0123456789',
);
const authHeaders = (token: string | undefined): Record<string, string> =>
  token === undefined ? {} : { authorization: `Bearer ${token}` };
/** Path segments: anything, percent-encoded, now and then with broken encoding. */
const segment = fc.oneof(
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.constantFrom('%', '%zz', '%E2%82', '..', '', '%00'),
);
/** Never the canary's name: arguments are short strings, numbers and the odd structure. */
const arg = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('12345678901234567890', 'EX', '10', '*'),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const name = fc.oneof(
  fc.constantFrom(
    'GET',
    'SET',
    'DEL',
    'INCR',
    'HSET',
    'LPUSH',
    'MGET',
    'EXPIRE',
    'ECHO',
    'PING',
    'XADD',
    'ZADD',
  ),
  fc.constantFrom(
    'EVAL',
    'EVAL_RO',
    'SCRIPT',
    'FUNCTION',
    'CLIENT',
    'SELECT',
    'MULTI',
    'KEYS',
    'BLPOP',
    'ASKING',
  ),
  fc.string({ maxLength: 10 }),
);
const command = fc.tuple(name, fc.array(arg, { maxLength: 4 })).map(([n, args]) => [n, ...args]);
const deepJson = fc.integer({ min: 1, max: 200 }).map((depth) => `${'['.repeat(depth)}1${']'.repeat(depth)}`);
const bodyText = fc.oneof(
  command.map((c) => JSON.stringify(c)),
  fc.array(command, { maxLength: 5 }).map((c) => JSON.stringify(c)),
  fc.json(),
  deepJson,
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '[', '[[]]', '{"value":', '[["GET"', `["SET","k",1e999]`),
);

const RUNS = { numRuns: 250 };

describe('fuzzing every route', () => {
  it('the command routes: POST /, /pipeline, /multi-exec with any body, token and encoding', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/', '/pipeline', '/multi-exec'),
        tokens,
        fc.constantFrom('base64', 'BASE64', 'gzip', undefined),
        bodyText,
        async (path, token, encoding, body) =>
          check({
            method: 'POST',
            path,
            headers: { ...authHeaders(token), ...(encoding ? { 'upstash-encoding': encoding } : {}) },
            body,
          }),
      ),
      RUNS,
    );
  });

  it('the path form and the streams: any method, segments and query string', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
        fc.oneof(
          name.map(encodeURIComponent),
          fc.constantFrom('subscribe', 'psubscribe', 'monitor', 'pipeline', 'docs'),
        ),
        fc.array(segment, { maxLength: 4 }),
        fc.array(fc.tuple(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })), { maxLength: 3 }),
        tokens,
        async (method, first, rest, query, token) => {
          const search = new URLSearchParams(query).toString();
          const path = `/${[first, ...rest].join('/')}${search ? `?${search}` : ''}`;
          // A stream that really starts is not a "case" that ends: only probe streams without a token.
          const isStream = /^\/(p?subscribe\/|monitor(\?|$))/.test(path) && token !== undefined;
          await check({ method, path, headers: authHeaders(isStream ? 'not-a-token-0123456789' : token) });
        },
      ),
      RUNS,
    );
  });

  it('the cache API: any key, method and JSON body', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'PUT', 'DELETE', 'POST'),
        fc.oneof(segment, fc.constantFrom('mget', 'mset', '')),
        tokens,
        fc.oneof(
          fc.jsonValue().map((value) => JSON.stringify({ value })),
          fc
            .record({ value: fc.jsonValue(), ttl: fc.oneof(fc.integer(), fc.double(), fc.string()) })
            .map((b) => JSON.stringify(b)),
          fc.array(fc.string({ maxLength: 6 }), { maxLength: 4 }).map((keys) => JSON.stringify({ keys })),
          fc
            .array(fc.record({ key: fc.string({ maxLength: 6 }), value: fc.jsonValue() }))
            .map((entries) => JSON.stringify({ entries })),
          deepJson.map((deep) => `{"value":${deep}}`),
          bodyText,
        ),
        async (method, key, token, body) =>
          check({
            method,
            path: `/v1/cache/${key}`,
            headers: authHeaders(token),
            ...(method === 'GET' ? {} : { body }),
          }),
      ),
      RUNS,
    );
  });

  it('headers: any names and values, Content-Type and Expect included', async () => {
    const header = fc.tuple(
      fc.constantFrom(
        'content-type',
        'x-api-key',
        'authorization',
        'upstash-sync-token',
        'origin',
        'x-request-id',
        'x-anything',
      ),
      fc.stringMatching(/^[\x20-\x7e]{0,30}$/),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(header, { maxLength: 4 }),
        fc.constantFrom('/', '/get/k', '/v1/cache/k', '/livez', '/metrics'),
        async (headers, path) =>
          check({
            method: path === '/' ? 'POST' : 'GET',
            path,
            headers: Object.fromEntries(headers),
            body: '["PING"]',
          }),
      ),
      RUNS,
    );
  });

  it('leaves nothing in flight', async () => {
    await waitFor(() => gateway.app.inFlight() === 0, 5000, 'requests stayed in flight after fuzzing');
  });
});
