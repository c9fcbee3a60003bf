import { Analytics, Ratelimit } from '@upstash/ratelimit';
import type { Redis } from '@upstash/redis';
import { describe, expect, it } from 'vitest';

/**
 * The real `@upstash/ratelimit` against cachegate. Its scripts start with `#!lua flags=allow-key-locking`,
 * which upstream Redis refuses; it runs them by `EVALSHA` of digests it computed itself, falling back to
 * `EVAL`. Its prefix carries a {hash tag} so every key of one limiter lives in one Cluster slot, as its
 * multi-key scripts need there.
 * @param sdk the `@upstash/redis` client of the enclosing suite, once its gateway is up.
 */
export function describeRatelimitCompat(sdk: () => Redis) {
  // `timeout: 0`: a limiter whose Redis fails answers "success, reason timeout" after its timeout instead
  // of failing; here a failure must fail the test.
  const limiter = (algorithm: ConstructorParameters<typeof Ratelimit>[0]['limiter'], extra = {}) =>
    new Ratelimit({ redis: sdk(), limiter: algorithm, prefix: '{rl}', timeout: 0, ...extra });

  /** Calls `limit` n times in order; returns each outcome. */
  const limitTimes = async (ratelimit: Ratelimit, id: string, n: number) => {
    const outcomes = [];
    for (let i = 0; i < n; i++) {
      const result = await ratelimit.limit(id);
      await result.pending;
      outcomes.push(result);
    }
    return outcomes;
  };

  describe('@upstash/ratelimit against cachegate', () => {
    for (const [name, algorithm] of [
      ['fixed window', Ratelimit.fixedWindow(3, '30 s')],
      ['sliding window', Ratelimit.slidingWindow(3, '30 s')],
      ['token bucket', Ratelimit.tokenBucket(1, '30 s', 3)],
    ] as const) {
      it(`${name}: limit, getRemaining, resetUsedTokens`, async () => {
        // No ephemeral cache: every call must reach Redis.
        const ratelimit = limiter(algorithm, { ephemeralCache: false });
        const outcomes = await limitTimes(ratelimit, name, 4);
        expect(outcomes.map((o) => [o.success, o.remaining, o.limit, o.reason])).toEqual([
          [true, 2, 3, undefined],
          [true, 1, 3, undefined],
          [true, 0, 3, undefined],
          [false, 0, 3, undefined],
        ]);
        expect(await ratelimit.getRemaining(name)).toMatchObject({ remaining: 0, limit: 3 });
        // Another identifier has its own budget.
        expect(await ratelimit.getRemaining(`${name}-other`)).toMatchObject({ remaining: 3 });
        await ratelimit.resetUsedTokens(name);
        expect(await ratelimit.getRemaining(name)).toMatchObject({ remaining: 3 });
        expect((await ratelimit.limit(name)).success).toBe(true);
      });
    }

    it('blockUntilReady waits for the next window', async () => {
      const ratelimit = limiter(Ratelimit.fixedWindow(1, '1 s'), { ephemeralCache: false });
      expect((await ratelimit.limit('block')).success).toBe(true);
      expect((await ratelimit.limit('block')).success).toBe(false);
      const started = Date.now();
      const result = await ratelimit.blockUntilReady('block', 5_000);
      expect(result.success).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('the ephemeral cache answers a blocked identifier without Redis until its reset', async () => {
      const ratelimit = limiter(Ratelimit.fixedWindow(1, '30 s'), { ephemeralCache: new Map() });
      await limitTimes(ratelimit, 'cached', 2);
      const cached = await ratelimit.limit('cached');
      expect(cached).toMatchObject({ success: false, reason: 'cacheBlock' });
    });

    it('deny lists: a listed identifier is denied', async () => {
      const ratelimit = limiter(Ratelimit.fixedWindow(10, '30 s'), { enableProtection: true });
      // The IP deny list would be fetched from GitHub; marked disabled, only the own deny list applies.
      await sdk().set('{rl}:ipDenyListStatus', 'disabled');
      await sdk().sadd('{rl}:denyList:all', 'mallory');
      const denied = await ratelimit.limit('mallory');
      await denied.pending;
      expect(denied).toMatchObject({ success: false, reason: 'denyList', deniedValue: 'mallory' });
      const allowed = await ratelimit.limit('alice');
      await allowed.pending;
      expect([allowed.success, allowed.reason]).toEqual([true, undefined]);
    });

    it('analytics records allowed and blocked calls', async () => {
      const ratelimit = limiter(Ratelimit.fixedWindow(1, '30 s'), { analytics: true, ephemeralCache: false });
      await limitTimes(ratelimit, 'counted', 3);
      // The package types its Redis from @upstash/redis's CommonJS build; the suite imports the ES one.
      const redis = sdk() as unknown as ConstructorParameters<typeof Analytics>[0]['redis'];
      const usage = await new Analytics({ redis, prefix: '{rl}' }).getUsage(Date.now() - 3_600_000);
      expect(usage.counted).toEqual({ success: 1, blocked: 2 });
    });
  });
}
