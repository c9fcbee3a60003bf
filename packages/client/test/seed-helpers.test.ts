import * as isomorphic from '@cachegate/client';
import { closeCache, deleteCache, getCache, isServiceAvailable, setCache } from '@cachegate/client/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, TOKENS } from './helpers/stack.js';

/**
 * The seed's Cloud Functions imported getCache/setCache/deleteCache/isServiceAvailable and configured them
 * with REDIS_SERVICE_URL and REDIS_SERVICE_API_KEY (plus REDIS_URL for the direct fallback). These tests
 * configure them exactly that way.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  process.env.REDIS_SERVICE_URL = stack.gateway.url;
  process.env.REDIS_SERVICE_API_KEY = TOKENS.write;
  process.env.REDIS_URL = stack.redis.url;
});
afterAll(async () => {
  await closeCache();
  await stack?.stop().catch(() => {});
  delete process.env.REDIS_SERVICE_URL;
  delete process.env.REDIS_SERVICE_API_KEY;
  delete process.env.REDIS_URL;
});

describe('seed-compatible helpers from @cachegate/client/node', () => {
  it('set, get and delete through the gateway', async () => {
    expect(await isServiceAvailable()).toBe(true);
    expect(await setCache('session:1', { user: 'ada', roles: ['admin'] })).toBe(true);
    expect(await getCache('session:1')).toEqual({ user: 'ada', roles: ['admin'] });
    expect(await deleteCache('session:1')).toBe(true);
    expect(await deleteCache('session:1')).toBe(false);
    expect(await getCache('session:1')).toBeNull();
  });

  it('isServiceAvailable is false while the gateway refuses the token, although Redis is up', async () => {
    await closeCache();
    process.env.REDIS_SERVICE_API_KEY = 'a-token-the-gateway-never-issued';
    try {
      expect(await isServiceAvailable()).toBe(false);
    } finally {
      await closeCache();
      process.env.REDIS_SERVICE_API_KEY = TOKENS.write;
    }
    expect(await isServiceAvailable()).toBe(true);
  });

  it('setCache with ttlSeconds sets an expiry', async () => {
    await setCache('short', 'x', 30);
    const ttl = Number(await stack.redis.command('TTL', 'short'));
    expect(ttl).toBeGreaterThan(28);
  });

  it('the isomorphic entry offers the same helpers over HTTP only', async () => {
    await isomorphic.setCache('iso', '42');
    expect(await isomorphic.getCache('iso')).toBe('42');
    expect(await getCache('iso')).toBe('42');
  });

  it('keep working on direct Redis when the gateway is down', async () => {
    await stack.gateway.close();
    expect(await setCache('during-outage', 1)).toBe(true);
    expect(await getCache('during-outage')).toBe(1);
    expect(await stack.redis.command('GET', 'during-outage')).toBe('1');
    expect(await isServiceAvailable()).toBe(false);
  });

  it('with gateway and Redis down, they report a miss or false instead of throwing', async () => {
    await stack.redis.kill();
    expect(await getCache('during-outage')).toBeNull();
    expect(await setCache('k', 1)).toBe(false);
    expect(await deleteCache('k')).toBe(false);
    expect(await isomorphic.getCache('iso')).toBeNull();
  });
});
