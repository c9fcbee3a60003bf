import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

// Issue 13, item 6: `?_token=` is taken byte for byte (percent-decoding only), so a token made by
// `openssl rand -base64 32` works in the query even when it holds `+`, `/` or `=`.
const TOKEN = 'q+/Rk9mZ+w==/x+y';
let redis: TestRedis;
let gateway: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startGateway(redis.url, { CACHEGATE_TOKEN: TOKEN });
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});
beforeEach(async () => {
  await redis.command('FLUSHALL');
});

const percentEncoded = encodeURIComponent(TOKEN);

describe('?_token=', () => {
  it.each([
    ['raw', TOKEN],
    ['percent-encoded', percentEncoded],
  ])('accepts a token with + / = sent %s, on POST /', async (_, sent) => {
    const response = await gateway.request(`/?_token=${sent}`, {
      token: null,
      method: 'POST',
      body: JSON.stringify(['SET', 'k', 'body form']),
    });
    expect(await response.json()).toEqual({ result: 'OK' });
    expect(await redis.command('GET', 'k')).toBe('body form');
  });

  it.each([
    ['raw', TOKEN],
    ['percent-encoded', percentEncoded],
  ])('accepts a token with + / = sent %s, on the path form, among other parameters', async (_, sent) => {
    const response = await gateway.request(`/set/k/path?EX=60&_token=${sent}&NX`, { token: null });
    expect(await response.json()).toEqual({ result: 'OK' });
    expect(await redis.command('GET', 'k')).toBe('path');
    expect(await redis.command('TTL', 'k')).toBeGreaterThan(50);
  });

  it('takes + as +, not as a space: the token with spaces for its + is refused', async () => {
    const spaced = encodeURIComponent(TOKEN.replaceAll('+', ' '));
    const response = await gateway.request(`/get/k?_token=${spaced}`, { token: null });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: expect.stringMatching(/token/i) });
  });

  it('refuses an empty, a truncated or a malformed _token with 401', async () => {
    for (const query of [
      '_token=',
      `_token=${TOKEN.slice(0, -1)}`,
      `_token=${TOKEN}%zz`,
      `x_token=${TOKEN}`,
    ]) {
      const response = await gateway.request(`/get/k?${query}`, { token: null });
      expect(response.status, query).toBe(401);
    }
  });
});

describe('query parameters of the path form', () => {
  // Form decoding, as query strings are decoded everywhere (WHATWG URLSearchParams, Go's url.Query,
  // Plug): `+` is a space and `%2B` a plus. Path segments are percent-decoded only: a `+` stays a `+`.
  it('decodes + as a space and %2B as a plus in values, while a + in a path segment stays a +', async () => {
    await redis.command('SET', 'a b', '1');
    await redis.command('SET', 'a+b', '2');
    const spaced = await gateway.request(`/scan/0?MATCH=a+b&_token=${TOKEN}`, { token: null });
    expect(await spaced.json()).toEqual({ result: ['0', ['a b']] });
    const plus = await gateway.request(`/scan/0?MATCH=a%2Bb&_token=${TOKEN}`, { token: null });
    expect(await plus.json()).toEqual({ result: ['0', ['a+b']] });
    const segment = await gateway.request(`/get/a+b?_token=${TOKEN}`, { token: null });
    expect(await segment.json()).toEqual({ result: '2' });
  });
});
