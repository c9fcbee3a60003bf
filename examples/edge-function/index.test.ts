import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadUrl, type Stack, startStack, TOKENS } from '../../packages/client/test/helpers/stack.js';
import worker, { type Env } from './index.js';

let stack: Stack;
let env: Env;

beforeAll(async () => {
  stack = await startStack();
  env = { CACHEGATE_URL: stack.gateway.url, CACHEGATE_TOKEN: TOKENS.write, RATE_LIMIT: '5' };
});
afterAll(() => stack?.stop());

const get = (path: string, ip = '203.0.113.7', bindings = env) =>
  worker.fetch(new Request(`https://edge.example${path}`, { headers: { 'cf-connecting-ip': ip } }), bindings);

describe('edge function example against a real gateway', () => {
  it('counts page views', async () => {
    const first = await get('/views/home');
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ page: 'home', views: 1 });
    expect(await (await get('/views/home')).json()).toEqual({ page: 'home', views: 2 });
    expect(await stack.redis.command('GET', 'views:home')).toBe('2');
  });

  it('rate limits each client to RATE_LIMIT requests per window, with an expiry on the window', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await get('/views/limited', '198.51.100.1')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect((await get('/views/limited', '198.51.100.2')).status).toBe(200);
    const keys = (await stack.redis.command('KEYS', 'ratelimit:198.51.100.1:*')) as string[];
    expect(keys).toHaveLength(1);
    expect(Number(await stack.redis.command('TTL', keys[0] as string))).toBeGreaterThan(0);
  });

  it('answers 404 for other paths and 503 with a code when the gateway is unreachable', async () => {
    expect((await get('/elsewhere', '192.0.2.10')).status).toBe(404);
    const down = await get('/views/home', '192.0.2.11', { ...env, CACHEGATE_URL: await deadUrl() });
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ code: 'CG_ERR_UNAVAILABLE' });
  });

  it('bundles for the edge: no Node built-in or dependency beyond the SDK', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('./index.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      alias: {
        '@cachegate/client': fileURLToPath(new URL('../../packages/client/src/index.ts', import.meta.url)),
      },
    });
    const code = result.outputFiles[0]?.text ?? '';
    expect(code).toContain('ratelimit:');
    expect(code).not.toMatch(/from\s*["']node:|\brequire\(|\bBuffer\b/);
  });
});
