import { describe, expect, it } from 'vitest';
import { RESERVED_PREFIX } from '../../src/auth/namespace.js';
import { outside } from '../../src/redis/scope-users.js';
import { SAVED_HOT_SET_KEY } from '../../src/warming/saved-hot-set.js';
import { startGateway, type TestGateway, TOKENS, waitFor } from '../helpers/gateway.js';
import type { TestRedis } from '../helpers/redis.js';
import { withRedisAndGateway } from '../helpers/setup.js';

let redis: TestRedis;
let gateway: TestGateway;
withRedisAndGateway((started) => ({ redis, gateway } = started));

/** `ACL DRYRUN user GET key`: OK, or Redis's reason. */
const dryRun = (user: string, ...command: string[]) => redis.command('ACL', 'DRYRUN', user, ...command);

describe('keys under the reserved prefix', () => {
  it('are refused to the scope users by Redis itself, and nothing else is', async () => {
    for (const user of ['cachegate-read', 'cachegate-write']) {
      for (const key of [SAVED_HOT_SET_KEY, `${RESERVED_PREFIX}x`, RESERVED_PREFIX]) {
        expect(await dryRun(user, 'GET', key)).toMatch(/no permissions to access/);
      }
      // Every key that differs from the prefix anywhere, is a part of it, or is empty, stays allowed.
      const near = [
        '',
        'c',
        'cachegate',
        'cachegate;x',
        'cachegatE:x',
        'acachegate:x',
        'cx',
        'cachegat',
        'user:1',
      ];
      for (const key of near)
        expect(await dryRun(user, 'GET', key), `${user} GET ${JSON.stringify(key)}`).toBe('OK');
    }
    expect(await dryRun('cachegate-write', 'SET', SAVED_HOT_SET_KEY, 'x')).toMatch(/no permissions/);
    expect(await dryRun('cachegate-write', 'RENAME', 'k', `${RESERVED_PREFIX}k`)).toMatch(/no permissions/);
  });

  it('are out of reach of read and write tokens, inside scripts too; admin tokens reach them', async () => {
    await redis.command('SET', SAVED_HOT_SET_KEY, 'secret');
    for (const token of [TOKENS.read, TOKENS.write]) {
      const read = await gateway.request('/', {
        method: 'POST',
        token,
        body: JSON.stringify(['GET', SAVED_HOT_SET_KEY]),
      });
      expect(read.status).toBe(400);
      expect((await read.json()).error).toMatch(/NOPERM|no permissions/);
    }
    const script = await gateway.request('/', {
      method: 'POST',
      body: JSON.stringify(['EVAL', "return redis.call('GET', KEYS[1])", '1', SAVED_HOT_SET_KEY]),
    });
    expect((await script.json()).error).toMatch(/NOPERM|no permissions/);
    const write = await gateway.request('/', {
      method: 'POST',
      body: JSON.stringify(['SET', SAVED_HOT_SET_KEY, 'x']),
    });
    expect(write.status).toBe(400);
    expect(await redis.command('GET', SAVED_HOT_SET_KEY)).toBe('secret');
    const admin = await gateway.request('/', {
      method: 'POST',
      token: TOKENS.admin,
      body: JSON.stringify(['GET', SAVED_HOT_SET_KEY]),
    });
    expect(await admin.json()).toEqual({ result: 'secret' });
  });

  it('are never read through the near cache, whose reader has the gateway’s rights', async () => {
    const near = await startGateway(redis.url, { CACHEGATE_NEAR_CACHE: 'on' });
    try {
      await waitFor(
        async () => (await (await near.request('/health')).json()).nearCache?.tracking === 'live',
        10_000,
        'tracking never went live',
      );
      await redis.command('SET', SAVED_HOT_SET_KEY, 'secret');
      await redis.command('SET', 'plain', 'v');
      for (let i = 0; i < 2; i++) {
        const reserved = await near.request('/', {
          method: 'POST',
          token: TOKENS.read,
          body: JSON.stringify(['GET', SAVED_HOT_SET_KEY]),
        });
        expect(reserved.status).toBe(400);
        const pipeline = await near.request('/pipeline', {
          method: 'POST',
          token: TOKENS.read,
          body: JSON.stringify([
            ['GET', 'plain'],
            ['GET', SAVED_HOT_SET_KEY],
          ]),
        });
        const [plain, secret] = await pipeline.json();
        expect(plain).toEqual({ result: 'v' });
        expect(secret.error).toMatch(/NOPERM|no permissions/);
      }
    } finally {
      await near.close();
    }
  });
});

describe('keyPatternsExcluding', () => {
  it('escapes what globs would read as syntax', () => {
    expect(outside('a*]', '~')).toEqual(['~[^a]*', '~', '~a[^*]*', '~a', '~a\\*[^\\]]*', '~a\\*']);
  });
});
