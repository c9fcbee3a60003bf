import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis';
import { describe, expect, it } from 'vitest';
import { type TestGateway, TOKENS } from './helpers/gateway.js';
import type { TestRedis } from './helpers/redis.js';
import { withRedisAndGateway } from './helpers/setup.js';

// Issue 21, class 12: with CACHEGATE_SCRIPTS=approved, no token but the main admin runs a script the main
// admin did not approve, so that no looping script that has written can leave Redis UNKILLABLE.
let redis: TestRedis;
let gateway: TestGateway;
withRedisAndGateway((started) => ({ redis, gateway } = started), { CACHEGATE_SCRIPTS: 'approved' });

const run = async (token: string, command: unknown[]) => {
  const answer = await gateway.request('/', { method: 'POST', body: JSON.stringify(command), token });
  return { status: answer.status, body: await answer.json() };
};

describe('CACHEGATE_SCRIPTS=approved', () => {
  it('refuses a write script nobody approved, before Redis sees it, naming the digest to approve', async () => {
    const looping = "redis.call('SET', 'w', '1') while true do end";
    const refused = await run(TOKENS.write, ['EVAL', looping, '0']);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatch(/script [0-9a-f]{40} is not approved/);
    // Redis was never wedged, and the script never ran.
    expect(await redis.command('PING')).toBe('PONG');
    expect(await redis.command('EXISTS', 'w')).toBe(0);
  });

  it('runs what the main admin loaded, by EVAL and EVALSHA, and read-only scripts always', async () => {
    const script = "return redis.call('INCR', KEYS[1])";
    expect((await run(TOKENS.write, ['EVAL', script, '1', 'n'])).status).toBe(403);
    const loaded = await run(TOKENS.admin, ['SCRIPT', 'LOAD', script]);
    expect(loaded.status).toBe(200);
    expect(await run(TOKENS.write, ['EVAL', script, '1', 'n'])).toEqual({ status: 200, body: { result: 1 } });
    expect(await run(TOKENS.write, ['EVALSHA', loaded.body.result, '1', 'n'])).toEqual({
      status: 200,
      body: { result: 2 },
    });
    expect(await run(TOKENS.read, ['EVAL_RO', "return redis.call('GET', KEYS[1])", '1', 'n'])).toEqual({
      status: 200,
      body: { result: '2' },
    });
    // The approvals are the main admin's: a write token cannot add one, even naming the set.
    const forged = await run(TOKENS.write, ['SADD', 'cachegate:approved-scripts', 'a'.repeat(40)]);
    expect(forged.body.error).toContain('NOPERM');
  });

  it('keeps @upstash/ratelimit working once the main admin approved its scripts', async () => {
    const sdk = new Redis({ url: gateway.url, token: TOKENS.write, enableAutoPipelining: false });
    const limiter = new Ratelimit({
      redis: sdk,
      limiter: Ratelimit.slidingWindow(2, '30 s'),
      ephemeralCache: false,
      timeout: 0,
    });
    let approved = 0;
    for (;;) {
      try {
        await limiter.limit('approved-user');
        break;
      } catch (error) {
        const digest = /script ([0-9a-f]{40}) is not approved/.exec(String(error))?.[1];
        expect(digest, String(error)).toBeDefined();
        expect(approved++).toBeLessThan(5);
        await run(TOKENS.admin, ['SADD', 'cachegate:approved-scripts', digest as string]);
      }
    }
    expect(approved).toBeGreaterThan(0);
    const outcomes = [];
    for (let i = 0; i < 2; i++) outcomes.push((await limiter.limit('approved-user')).success);
    expect(outcomes).toEqual([true, false]);
  });
});
