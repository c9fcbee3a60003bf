import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, type TestResponse, TOKENS } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
let gateway: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startGateway(redis.url, {
    CACHEGATE_MAX_BODY_BYTES: '4096',
    CACHEGATE_MAX_KEY_BYTES: '64',
  });
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});
beforeEach(async () => {
  await redis.command('FLUSHALL');
});

const put = (key: string, body: unknown, token?: string | null) =>
  gateway.request(`/v1/cache/${key}`, {
    method: 'PUT',
    body: JSON.stringify(body),
    ...(token === undefined ? {} : { token }),
  });
const get = (key: string, token?: string | null) =>
  gateway.request(`/v1/cache/${key}`, token === undefined ? {} : { token });

describe('cache API: happy paths', () => {
  it('stores a JSON value and reads it back with its TTL', async () => {
    const value = { user: { id: 7, tags: ['a', 'b'] }, score: 1.5, ok: true, none: null };
    const stored = await put('session', { value, ttl: 60 });
    expect(stored.status).toBe(200);
    expect(await stored.json()).toEqual({ key: 'session', ttl: 60 });

    const read = await get('session');
    expect(read.status).toBe(200);
    const body = await read.json();
    expect(body).toMatchObject({ key: 'session', value });
    expect(body.ttl).toBeGreaterThan(55);
    expect(body.ttl).toBeLessThanOrEqual(60);
  });

  it('stores the value as JSON text under the exact key, with no prefix', async () => {
    await put('plain', { value: 'looks like 42' });
    expect(await redis.command('GET', 'plain')).toBe('"looks like 42"');
    await put('number', { value: 42 });
    expect(await redis.command('GET', 'number')).toBe('42');
  });

  it('keeps a string that looks like a number a string', async () => {
    await put('s', { value: '123' });
    expect((await (await get('s')).json()).value).toBe('123');
  });

  it('reports ttl null for keys without expiry', async () => {
    await put('forever', { value: [1, 2, 3] });
    expect(await (await get('forever')).json()).toEqual({ key: 'forever', value: [1, 2, 3], ttl: null });
  });

  it('reads values written raw by other clients as strings', async () => {
    await redis.command('SET', 'raw', 'hello world');
    expect((await (await get('raw')).json()).value).toBe('hello world');
  });

  it('deletes a key and reports how many were deleted', async () => {
    await put('gone', { value: 1 });
    const first = await gateway.request('/v1/cache/gone', { method: 'DELETE' });
    expect(await first.json()).toEqual({ deleted: 1 });
    const second = await gateway.request('/v1/cache/gone', { method: 'DELETE' });
    expect(await second.json()).toEqual({ deleted: 0 });
    expect((await get('gone')).status).toBe(404);
  });

  it('reads many keys in request order with mget', async () => {
    await put('a', { value: { n: 1 } });
    await put('c', { value: null });
    const response = await gateway.request('/v1/cache/mget', {
      method: 'POST',
      body: JSON.stringify({ keys: ['a', 'b', 'c'] }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      entries: [
        { key: 'a', found: true, value: { n: 1 } },
        { key: 'b', found: false },
        { key: 'c', found: true, value: null },
      ],
    });
  });

  it('writes many entries atomically with mset, each with its own TTL', async () => {
    const response = await gateway.request('/v1/cache/mset', {
      method: 'POST',
      body: JSON.stringify({
        entries: [
          { key: 'x', value: 'one', ttl: 100 },
          { key: 'y', value: { two: 2 } },
        ],
      }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ stored: 2 });
    expect(await redis.command('GET', 'x')).toBe('"one"');
    expect(Number(await redis.command('TTL', 'x'))).toBeGreaterThan(90);
    expect(await redis.command('TTL', 'y')).toBe(-1);
  });

  it.each([
    ['unicode', 'clé-ünïcødé', 'clé-ünïcødé'],
    ['emoji', '🔑🚀', '🔑🚀'],
    ['a slash, encoded', 'a%2Fb', 'a/b'],
    ['a slash, raw', 'a/b/c', 'a/b/c'],
    ['dot segments', '..%2F..%2Fetc', '../../etc'],
    ['spaces and symbols', 'k%20%3F%23%26', 'k ?#&'],
  ])('accepts keys with %s', async (_label, inUrl, key) => {
    const path = inUrl === key ? encodeURIComponent(key).replaceAll('%2F', '/') : inUrl;
    expect((await put(path, { value: key })).status).toBe(200);
    expect(await redis.command('GET', key)).toBe(JSON.stringify(key));
    expect(await (await get(path)).json()).toMatchObject({ key, value: key });
  });
});

describe('cache API: errors', () => {
  const expectError = async (response: TestResponse, status: number, code: string) => {
    expect(response.status).toBe(status);
    const body = await response.json();
    expect(body.error.code).toBe(code);
    expect(body.error.message).toEqual(expect.any(String));
    expect(body.error.requestId).toBe(response.headers.get('x-request-id'));
  };

  it('returns 404 for a missing key', async () => {
    await expectError(await get('missing'), 404, 'CG_ERR_KEY_NOT_FOUND');
  });

  it('rejects an empty key', async () => {
    await expectError(await get(''), 400, 'CG_ERR_KEY_INVALID');
    await expectError(await put('', { value: 1 }), 400, 'CG_ERR_KEY_INVALID');
  });

  it('rejects keys longer than CACHEGATE_MAX_KEY_BYTES, counting UTF-8 bytes', async () => {
    await expectError(await put('k'.repeat(65), { value: 1 }), 400, 'CG_ERR_KEY_INVALID');
    // 22 emoji = 88 bytes but only 44 UTF-16 units
    await expectError(
      await put(encodeURIComponent('😀'.repeat(22)), { value: 1 }),
      400,
      'CG_ERR_KEY_INVALID',
    );
    expect((await put('k'.repeat(64), { value: 1 })).status).toBe(200);
  });

  it('rejects malformed percent-encoding in a key', async () => {
    await expectError(await get('bad%ZZkey'), 400, 'CG_ERR_KEY_INVALID');
  });

  it('rejects malformed JSON bodies and keeps serving', async () => {
    const response = await gateway.request('/v1/cache/k', { method: 'PUT', body: '{"value": ' });
    await expectError(response, 400, 'CG_ERR_BODY_INVALID');
    expect((await put('k', { value: 'still fine' })).status).toBe(200);
  });

  it.each([
    ['no value', { ttl: 5 }],
    ['a non-integer ttl', { value: 1, ttl: 1.5 }],
    ['a string ttl', { value: 1, ttl: '60' }],
    ['a zero ttl', { value: 1, ttl: 0 }],
    ['an unknown field', { value: 1, TTL: 60 }],
    ['an array body', [1, 2]],
  ])('rejects a PUT body with %s', async (_label, body) => {
    await expectError(await put('k', body), 400, 'CG_ERR_REQUEST_INVALID');
    expect(await redis.command('EXISTS', 'k')).toBe(0);
  });

  it('rejects bad mget and mset bodies', async () => {
    const mget = (body: unknown) =>
      gateway.request('/v1/cache/mget', { method: 'POST', body: JSON.stringify(body) });
    await expectError(await mget({ keys: [] }), 400, 'CG_ERR_REQUEST_INVALID');
    await expectError(await mget({ keys: ['a', 1] }), 400, 'CG_ERR_REQUEST_INVALID');
    await expectError(await mget({ keys: ['a', ''] }), 400, 'CG_ERR_KEY_INVALID');
    const mset = (body: unknown) =>
      gateway.request('/v1/cache/mset', { method: 'POST', body: JSON.stringify(body) });
    await expectError(await mset({ entries: [{ key: 'a' }] }), 400, 'CG_ERR_REQUEST_INVALID');
    await expectError(
      await mset({
        entries: [
          { key: 'a', value: 1 },
          { key: '', value: 2 },
        ],
      }),
      400,
      'CG_ERR_KEY_INVALID',
    );
    expect(await redis.command('EXISTS', 'a')).toBe(0);
  });

  it('answers 413 with a JSON error for bodies over CACHEGATE_MAX_BODY_BYTES, and loses nothing', async () => {
    await put('k', { value: 'before' });
    const response = await put('k', { value: 'x'.repeat(10_000) });
    await expectError(response, 413, 'CG_ERR_BODY_TOO_LARGE');
    expect((await (await get('k')).json()).value).toBe('before');
  });

  it('reports a Redis error, such as reading a hash, as CG_ERR_REDIS_ERROR', async () => {
    await redis.command('HSET', 'h', 'f', 'v');
    const response = await get('h');
    await expectError(response, 400, 'CG_ERR_REDIS_ERROR');
  });

  it('answers 405 for methods the cache routes do not serve', async () => {
    const response = await gateway.request('/v1/cache/k', { method: 'POST', body: '{}' });
    await expectError(response, 405, 'CG_ERR_METHOD_NOT_ALLOWED');
    expect(response.headers.get('allow')).toBe('GET, PUT, DELETE');
  });
});

describe('cache API: security', () => {
  it('answers 401 without a token, on every route', async () => {
    for (const [method, path] of [
      ['GET', '/v1/cache/k'],
      ['PUT', '/v1/cache/k'],
      ['DELETE', '/v1/cache/k'],
      ['POST', '/v1/cache/mget'],
      ['POST', '/v1/cache/mset'],
    ] as const) {
      const response = await gateway.request(path, {
        method,
        token: null,
        ...(method === 'GET' ? {} : { body: '{}' }),
      });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect((await response.json()).error.code).toBe('CG_ERR_AUTH_MISSING');
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it('answers 401 for a wrong token and writes nothing', async () => {
    const response = await put('k', { value: 1 }, 'not-the-token-at-all-000');
    expect(response.status).toBe(401);
    expect((await response.json()).error.code).toBe('CG_ERR_AUTH_INVALID');
    expect(await redis.command('EXISTS', 'k')).toBe(0);
  });

  it('accepts the token as X-API-Key and as ?_token=', async () => {
    await put('k', { value: 'v' });
    const viaHeader = await gateway.request('/v1/cache/k', {
      token: null,
      headers: { 'x-api-key': TOKENS.read },
    });
    expect(viaHeader.status).toBe(200);
    const viaQuery = await gateway.request(`/v1/cache/k?_token=${TOKENS.read}`, { token: null });
    expect(viaQuery.status).toBe(200);
  });

  it('lets a read-only token read but answers 403 when it writes or deletes', async () => {
    await put('k', { value: 'v' });
    expect((await get('k', TOKENS.read)).status).toBe(200);
    for (const response of [
      await put('k', { value: 'changed' }, TOKENS.read),
      await gateway.request('/v1/cache/k', { method: 'DELETE', token: TOKENS.read }),
      await gateway.request('/v1/cache/mset', {
        method: 'POST',
        token: TOKENS.read,
        body: JSON.stringify({ entries: [{ key: 'k', value: 'changed' }] }),
      }),
    ]) {
      expect(response.status).toBe(403);
      expect((await response.json()).error.code).toBe('CG_ERR_COMMAND_DENIED');
    }
    expect(await redis.command('GET', 'k')).toBe('"v"');
  });
});
