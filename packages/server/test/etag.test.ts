import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TestGateway, TestResponse } from './helpers/gateway.js';
import type { TestRedis } from './helpers/redis.js';
import { withRedisAndGateway } from './helpers/setup.js';

let redis: TestRedis;
let gateway: TestGateway;
withRedisAndGateway((started) => ({ redis, gateway } = started));

const get = (path: string, headers: Record<string, string> = {}) => gateway.request(path, { headers });

/** The ETag the gateway should give a body: SHA-1 of its exact bytes, base64url, quoted. */
const tagOf = (body: string) => `"${createHash('sha1').update(body).digest('base64url')}"`;

/** Asserts a validated 200 and returns its ETag. */
async function validated(response: TestResponse): Promise<string> {
  expect(response.status).toBe(200);
  const body = await response.text();
  const tag = response.headers.get('etag');
  expect(tag).toBe(tagOf(body));
  expect(response.headers.get('cache-control')).toBe('private, no-cache');
  return tag as string;
}

async function expectNotModified(response: TestResponse, tag: string) {
  expect(response.status).toBe(304);
  expect(await response.text()).toBe('');
  expect(response.headers.get('etag')).toBe(tag);
  expect(response.headers.get('cache-control')).toBe('private, no-cache');
  expect(response.headers.get('x-request-id')).toBeTruthy();
  expect(response.headers.get('content-type')).toBeNull();
}

// Both GET routes, each with a way to store a value behind the gateway's back.
const routes = [
  { name: 'path form', path: '/get/k', store: (value: string) => redis.command('SET', 'k', value) },
  {
    name: '/v1/cache/:key',
    path: '/v1/cache/k',
    store: (value: string) => redis.command('SET', 'k', JSON.stringify(value)),
  },
];

describe.each(routes)('ETags on $name', ({ path, store }) => {
  it('gives a 200 an ETag of its body, the same for the same value', async () => {
    await store('one');
    const first = await validated(await get(path));
    expect(await validated(await get(path))).toBe(first);
  });

  it('changes the ETag when a direct Redis client changes the value', async () => {
    await store('one');
    const before = await validated(await get(path));
    await store('two');
    const after = await validated(await get(path));
    expect(after).not.toBe(before);
  });

  it('answers 304 with no body for the current ETag, and 200 for an old one', async () => {
    await store('one');
    const old = await validated(await get(path));
    await store('two');
    const current = await validated(await get(path));
    await expectNotModified(await get(path, { 'if-none-match': current }), current);

    const stale = await get(path, { 'if-none-match': old });
    expect(await validated(stale)).toBe(current);
  });

  it('matches any member of a list, weak or strong, and *', async () => {
    await store('one');
    const current = await validated(await get(path));
    const other = '"not-this-one"';
    await expectNotModified(await get(path, { 'if-none-match': `${other}, ${current}` }), current);
    await expectNotModified(await get(path, { 'if-none-match': `${other},W/${current}` }), current);
    await expectNotModified(await get(path, { 'if-none-match': '*' }), current);
    expect((await get(path, { 'if-none-match': `${other}, W/"also-not"` })).status).toBe(200);
    // A tag that merely contains the current one is a different tag.
    expect((await get(path, { 'if-none-match': `"x${current.slice(1)}` })).status).toBe(200);
  });
});

describe('ETags on the path form', () => {
  it('keeps upstash-sync-token on the 304', async () => {
    await redis.command('SET', 'k', 'v');
    const ok = await get('/get/k');
    const tag = await validated(ok);
    const notModified = await get('/get/k', { 'if-none-match': tag });
    await expectNotModified(notModified, tag);
    expect(notModified.headers.get('upstash-sync-token')).toBe(ok.headers.get('upstash-sync-token'));
  });

  it('gives the base64 encoding its own ETag: a different body', async () => {
    await redis.command('SET', 'k', 'v');
    const json = await validated(await get('/get/k'));
    const base64 = await get('/get/k', { 'upstash-encoding': 'base64' });
    const base64Tag = await validated(base64);
    expect(base64Tag).not.toBe(json);
    // The JSON form's tag does not validate the base64 form, nor the other way round.
    expect((await get('/get/k', { 'upstash-encoding': 'base64', 'if-none-match': json })).status).toBe(200);
    expect((await get('/get/k', { 'if-none-match': base64Tag })).status).toBe(200);
    await expectNotModified(
      await get('/get/k', { 'upstash-encoding': 'base64', 'if-none-match': base64Tag }),
      base64Tag,
    );
  });

  it('validates the RESP2 form too', async () => {
    await redis.command('SET', 'k', 'v');
    const response = await get('/get/k', { 'upstash-response-format': 'resp2' });
    expect(response.status).toBe(200);
    const tag = response.headers.get('etag') as string;
    expect(tag).toBe(tagOf('$1\r\nv\r\n'));
    await expectNotModified(
      await get('/get/k', { 'upstash-response-format': 'resp2', 'if-none-match': tag }),
      tag,
    );
  });

  it('gives a Redis error no ETag, even with If-None-Match: *', async () => {
    await redis.command('SET', 'k', 'v');
    const response = await get('/lrange/k/0/1', { 'if-none-match': '*' });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatch(/WRONGTYPE/);
    expect(response.headers.get('etag')).toBeNull();
    expect(response.headers.get('cache-control')).toBeNull();
  });

  it('gives a GET that writes no ETag and runs it whatever If-None-Match says', async () => {
    const first = await get('/incr/n', { 'if-none-match': '*' });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ result: 1 });
    expect(first.headers.get('etag')).toBeNull();
    expect((await get('/incr/n', { 'if-none-match': '*' })).status).toBe(200);
    expect(await redis.command('GET', 'n')).toBe('2');
  });

  it('gives POST answers no ETag, even for a read with a matching If-None-Match', async () => {
    await redis.command('SET', 'k', 'v');
    const tag = await validated(await get('/get/k'));
    for (const request of [
      { path: '/', body: '["GET","k"]' },
      { path: '/get/k', body: '' },
    ]) {
      const response = await gateway.request(request.path, {
        method: 'POST',
        body: request.body,
        headers: { 'if-none-match': tag },
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ result: 'v' });
      expect(response.headers.get('etag')).toBeNull();
    }
  });

  it('gives an unauthenticated request no ETag', async () => {
    const response = await gateway.request('/get/k', { token: null, headers: { 'if-none-match': '*' } });
    expect(response.status).toBe(401);
    expect(response.headers.get('etag')).toBeNull();
  });
});

describe('ETags on /v1/cache/:key', () => {
  it('gives a missing key (404) no ETag, even with If-None-Match: *', async () => {
    const response = await get('/v1/cache/missing', { 'if-none-match': '*' });
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe('CG_ERR_KEY_NOT_FOUND');
    expect(response.headers.get('etag')).toBeNull();
  });

  it('tags the whole answer: the same value with a TTL is a different body', async () => {
    await redis.command('SET', 'k', '"v"');
    const forever = await validated(await get('/v1/cache/k'));
    await redis.command('EXPIRE', 'k', '1000');
    const expiring = await get('/v1/cache/k');
    const tag = await validated(expiring);
    expect(tag).not.toBe(forever);
    expect((await get('/v1/cache/k', { 'if-none-match': forever })).status).toBe(200);
  });

  it('gives PUT and DELETE answers no ETag', async () => {
    const put = await gateway.request('/v1/cache/k', { method: 'PUT', body: '{"value":1}' });
    expect(put.status).toBe(200);
    expect(put.headers.get('etag')).toBeNull();
    const removed = await gateway.request('/v1/cache/k', { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect(removed.headers.get('etag')).toBeNull();
  });
});
