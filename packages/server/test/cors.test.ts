import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
let withCors: TestGateway;
let withoutCors: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  withCors = await startGateway(redis.url, { CACHEGATE_CORS_ORIGINS: 'https://app.example' });
  withoutCors = await startGateway(redis.url);
});
afterAll(async () => {
  await withCors?.close();
  await withoutCors?.close();
  await redis?.stop();
});

const preflight = (gateway: TestGateway, origin: string) =>
  gateway.request('/', {
    method: 'OPTIONS',
    token: null,
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type, upstash-encoding, upstash-sync-token',
    },
  });

describe('CORS', () => {
  it('answers preflights from allowed origins, allowing the Upstash headers', async () => {
    const response = await preflight(withCors, 'https://app.example');
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const allowed = response.headers.get('access-control-allow-headers')?.toLowerCase() ?? '';
    for (const header of ['authorization', 'upstash-encoding', 'upstash-sync-token'])
      expect(allowed).toContain(header);
  });

  it('exposes upstash-sync-token on responses to allowed origins', async () => {
    const response = await withCors.request('/', {
      method: 'POST',
      body: '["GET","k"]',
      headers: { origin: 'https://app.example' },
    });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(response.headers.get('access-control-expose-headers')?.toLowerCase()).toContain(
      'upstash-sync-token',
    );
  });

  it('allows If-None-Match and exposes ETag, on the 200 and on the 304', async () => {
    const response = await withCors.request('/', {
      method: 'OPTIONS',
      token: null,
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization, if-none-match',
      },
    });
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('if-none-match');

    const headers = { origin: 'https://app.example' };
    const ok = await withCors.request('/get/k', { headers });
    const tag = ok.headers.get('etag');
    expect(tag).toBeTruthy();
    expect(ok.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('etag');
    const notModified = await withCors.request('/get/k', {
      headers: { ...headers, 'if-none-match': tag as string },
    });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(notModified.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('etag');
  });

  it('gives other origins no CORS headers', async () => {
    const response = await preflight(withCors, 'https://evil.example');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('is off unless CACHEGATE_CORS_ORIGINS is set', async () => {
    const response = await withoutCors.request('/', {
      method: 'POST',
      body: '["GET","k"]',
      headers: { origin: 'https://app.example' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
