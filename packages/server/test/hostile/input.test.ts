import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { type TestGateway, TOKENS } from '../helpers/gateway.js';
import type { TestRedis } from '../helpers/redis.js';
import { withRedisAndGateway } from '../helpers/setup.js';

// Issue 11, class 7: bad input gets a clear 4xx, no value changes silently, no secret comes back.
let redis: TestRedis;
let gateway: TestGateway;
withRedisAndGateway((started) => ({ redis, gateway } = started));

const post = (path: string, body: string) => gateway.request(path, { method: 'POST', body });
const put = (key: string, body: string) => gateway.request(`/v1/cache/${key}`, { method: 'PUT', body });

/** The numerals JSON.parse would turn into another number. */
const LOSSY = ['12345678901234567890', '1e309', '-1e309', '0.30000000000000000444', '1e-400'];

describe('numbers that JSON cannot carry exactly', () => {
  it.each(LOSSY)('refuses %s as a command argument, names it, and stores nothing', async (numeral) => {
    for (const [path, body] of [
      ['/', `["SET","k",${numeral}]`],
      ['/pipeline', `[["SET","k",${numeral}]]`],
      ['/multi-exec', `[["SET","k",${numeral}]]`],
    ] as const) {
      const response = await post(path, body);
      expect(response.status).toBe(400);
      expect(response.headers.get('cachegate-executed')).toBe('no');
      expect((await response.json()).error).toContain('send it as a string');
    }
    expect(await redis.command('EXISTS', 'k')).toBe(0);
  });

  it.each(LOSSY)('refuses %s inside a cache value, and stores nothing', async (numeral) => {
    const response = await put('k', `{"value":{"n":[1,${numeral}]}}`);
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe('CG_ERR_BODY_INVALID');
    expect(await redis.command('EXISTS', 'k')).toBe(0);
  });

  it('takes every number it can carry, floats and other notations included, by value', async () => {
    const response = await post(
      '/pipeline',
      JSON.stringify([
        ['SET', 'a', 9007199254740991],
        ['SET', 'b', 0.1],
        ['SET', 'c', -2.5e-7],
      ]).replace('-2.5e-7', '-2.50E-7'),
    );
    expect(response.status).toBe(200);
    expect(await redis.command('MGET', 'a', 'b', 'c')).toEqual(['9007199254740991', '0.1', '-2.5e-7']);
    await post('/', '["INCRBYFLOAT","f",1.5]');
    expect(await redis.command('GET', 'f')).toBe('1.5');
  });

  it('keeps a big number sent as a string exact, and reads stored JSON back byte for byte', async () => {
    expect((await put('s', '{"value":"12345678901234567890"}')).status).toBe(200);
    expect((await (await gateway.request('/v1/cache/s')).json()).value).toBe('12345678901234567890');
    // Written by another client: the gateway passes the stored JSON on as it is.
    await redis.command('SET', 'raw', '{"n":12345678901234567890}');
    const text = await (await gateway.request('/v1/cache/raw')).text();
    expect(text).toContain('"value":{"n":12345678901234567890}');
  });
});

describe('nesting', () => {
  const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it('refuses a cache value nested deeper than CACHEGATE_MAX_JSON_DEPTH with a clear 400', async () => {
    for (const depth of [600, 5000, 100_000]) {
      const response = await put('k', `{"value":${deep(depth)}}`);
      expect(response.status).toBe(400);
      expect((await response.json()).error.message).toContain('CACHEGATE_MAX_JSON_DEPTH');
    }
    expect(await redis.command('EXISTS', 'k')).toBe(0);
  });

  it('stores and reads a value within the limit', async () => {
    expect((await put('k', `{"value":${deep(500)}}`)).status).toBe(200);
    const response = await gateway.request('/v1/cache/k');
    expect(response.status).toBe(200);
    expect((await response.text()).length).toBeGreaterThan(1000);
  });

  it('reads a stored value of any depth, written by another client, without a 500', async () => {
    await redis.command('SET', 'deep', deep(10_000));
    for (const response of [
      await gateway.request('/v1/cache/deep'),
      await gateway.request('/v1/cache/mget', { method: 'POST', body: '{"keys":["deep"]}' }),
    ]) {
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(deep(10_000));
    }
  });

  it('answers a command body nested anywhere with a 400', async () => {
    for (const body of [`["SET","k",${deep(100_000)}]`, `[${deep(100_000)}]`, deep(100_000)]) {
      for (const path of ['/', '/pipeline']) expect((await post(path, body)).status).toBe(400);
    }
  });
});

describe('secrets in error bodies', () => {
  /** Sends a raw request line: fetch() would normalise a malformed URL before it left. */
  const raw = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(gateway.url);
      const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('never echoes the URL or its _token in a 400', async () => {
    for (const path of [`/get/%zz?_token=${TOKENS.write}`, `/v1/cache/%zz?_token=${TOKENS.write}`]) {
      const response = await raw(path);
      expect(response.status).toBe(400);
      expect(response.body).not.toContain(TOKENS.write);
      expect(response.body).not.toContain('%zz');
    }
  });
});
