import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, type TestResponse, TOKENS } from './helpers/gateway.js';
import type { TestRedis } from './helpers/redis.js';
import { withRedisAndGateway } from './helpers/setup.js';

let redis: TestRedis;
let gateway: TestGateway;
withRedisAndGateway((started) => ({ redis, gateway } = started));

const run = (command: unknown[], token: string = TOKENS.write, path = '/') =>
  gateway.request(path, { method: 'POST', body: JSON.stringify(command), token });

async function expectDenied(response: TestResponse, ...mentions: string[]) {
  expect(response.status).toBe(403);
  expect(response.headers.get('cachegate-executed')).toBe('no');
  const { error } = await response.json();
  for (const text of mentions) expect(error).toContain(text);
}

describe('command policy: the shared connection stays clean', () => {
  it.each([
    ['SELECT', ['SELECT', '1']],
    ['AUTH', ['AUTH', 'user', 'pw']],
    ['HELLO', ['HELLO', '3']],
    ['CLIENT', ['CLIENT', 'SETNAME', 'x']],
    ['QUIT', ['QUIT']],
    ['RESET', ['RESET']],
    ['MONITOR', ['MONITOR']],
    ['SUBSCRIBE', ['SUBSCRIBE', 'ch']],
    ['PSUBSCRIBE', ['PSUBSCRIBE', 'ch*']],
    ['WAIT', ['WAIT', '1', '0']],
  ])('denies %s for every scope, admin included', async (name, command) => {
    for (const token of [TOKENS.read, TOKENS.write, TOKENS.admin]) {
      await expectDenied(await run(command, token), name);
    }
  });

  it.each([
    ['MULTI', ['MULTI']],
    ['EXEC', ['EXEC']],
    ['DISCARD', ['DISCARD']],
    ['WATCH', ['WATCH', 'k']],
    ['UNWATCH', ['UNWATCH']],
  ])('denies %s outside /multi-exec and points to it', async (name, command) => {
    await expectDenied(await run(command, TOKENS.admin), name, '/multi-exec');
    await expectDenied(await run([command], TOKENS.admin, '/pipeline'), name);
    await expectDenied(await run([['SET', 'k', 'v'], command], TOKENS.admin, '/multi-exec'), name);
  });

  it.each([
    ['BLPOP', ['BLPOP', 'q', '1']],
    ['BRPOPLPUSH', ['BRPOPLPUSH', 'a', 'b', '1']],
    ['BZPOPMIN', ['BZPOPMIN', 'z', '1']],
    ['XREAD with BLOCK', ['XREAD', 'BLOCK', '100', 'STREAMS', 's', '$']],
  ])('denies blocking command %s', async (_name, command) => {
    await expectDenied(await run(command, TOKENS.admin), String(command[0]), 'blocking');
  });

  it('allows XREAD without BLOCK, even on a stream called "block"', async () => {
    await redis.command('XADD', 'block', '*', 'f', 'v');
    const response = await run(['XREAD', 'COUNT', '1', 'STREAMS', 'block', '0']);
    expect(response.status).toBe(200);
    expect((await response.json()).result[0][0]).toBe('block');
  });

  it('denies a whole pipeline when one command is denied, and runs none of it', async () => {
    await expectDenied(
      await run(
        [
          ['SET', 'a', '1'],
          ['SELECT', '2'],
          ['SET', 'b', '2'],
        ],
        TOKENS.write,
        '/pipeline',
      ),
    );
    expect(await redis.command('DBSIZE')).toBe(0);
  });
});

describe('command policy: scopes', () => {
  it.each([
    ['FLUSHALL', ['FLUSHALL']],
    ['KEYS', ['KEYS', '*']],
    ['CONFIG GET', ['CONFIG', 'GET', 'maxmemory']],
    ['DEBUG', ['DEBUG', 'OBJECT', 'k']],
    ['SHUTDOWN', ['SHUTDOWN', 'NOSAVE']],
    ['INFO', ['INFO']],
  ])('keeps %s (@admin/@dangerous) for admin tokens', async (_name, command) => {
    await redis.command('SET', 'k', 'v');
    for (const token of [TOKENS.read, TOKENS.write]) await expectDenied(await run(command, token), 'admin');
    expect(await redis.command('EXISTS', 'k')).toBe(1);
  });

  it('lets an admin token run admin commands', async () => {
    await redis.command('SET', 'k', 'v');
    expect(await (await run(['KEYS', '*'], TOKENS.admin)).json()).toEqual({ result: ['k'] });
    expect(await (await run(['CONFIG', 'GET', 'maxmemory-policy'], TOKENS.admin)).json()).toEqual({
      result: ['maxmemory-policy', expect.any(String)],
    });
    expect(await (await run(['FLUSHALL'], TOKENS.admin)).json()).toEqual({ result: 'OK' });
    expect(await redis.command('DBSIZE')).toBe(0);
  });

  it('lets a read token run read-only commands, PING and EVAL_RO', async () => {
    await redis.command('SET', 'k', 'v');
    for (const command of [
      ['GET', 'k'],
      ['PING'],
      ['EXISTS', 'k'],
      ['SCAN', '0'],
      ['EVAL_RO', 'return 1', '0'],
    ]) {
      expect((await run(command, TOKENS.read)).status, String(command[0])).toBe(200);
    }
  });

  it.each([
    ['SET', ['SET', 'k', 'x']],
    ['DEL', ['DEL', 'k']],
    ['EVAL', ['EVAL', "return redis.call('DEL', KEYS[1])", '1', 'k']],
    ['FCALL', ['FCALL', 'f', '0']],
    ['PUBLISH', ['PUBLISH', 'ch', 'm']],
  ])('denies %s to a read token', async (name, command) => {
    await redis.command('SET', 'k', 'v');
    await expectDenied(await run(command, TOKENS.read), name, 'read');
    expect(await redis.command('GET', 'k')).toBe('v');
  });

  it('lets a write token run scripts', async () => {
    const response = await run(['EVAL', "return redis.call('INCRBY', KEYS[1], ARGV[1])", '1', 'n', '5']);
    expect(await response.json()).toEqual({ result: 5 });
    const sha = (await (await run(['SCRIPT', 'LOAD', 'return ARGV[1]'])).json()).result;
    expect(await (await run(['EVALSHA', sha, '0', 'hi'])).json()).toEqual({ result: 'hi' });
  });

  it("lets unknown commands through to get Redis's own error", async () => {
    const response = await run(['FROBNICATE', 'k'], TOKENS.read);
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatch(/unknown command/);
  });
});

describe('tokens file with a Redis ACL user', () => {
  let aclGateway: TestGateway;
  const appToken = 'acl-app-token-0123456789';

  beforeAll(async () => {
    await redis.command('ACL', 'SETUSER', 'app', 'on', '>app-password', '~app:*', '+@all', '-@dangerous');
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-acl-'));
    const file = join(dir, 'tokens.json');
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'app', token: appToken, scope: 'write', redisUser: 'app', redisPassword: 'app-password' },
      ]),
    );
    aclGateway = await startGateway(redis.url, { CACHEGATE_TOKENS_FILE: file });
  });
  afterAll(async () => {
    await aclGateway?.close();
  });

  it("runs the token's commands as a scoped copy of its Redis user, so Redis enforces the key pattern", async () => {
    const allowed = await aclGateway.request('/', {
      method: 'POST',
      body: '["SET","app:1","v"]',
      token: appToken,
    });
    expect(await allowed.json()).toEqual({ result: 'OK' });
    const denied = await aclGateway.request('/', {
      method: 'POST',
      body: '["SET","other:1","v"]',
      token: appToken,
    });
    expect(denied.status).toBe(400);
    expect((await denied.json()).error).toMatch(/^NOPERM/);
    expect(await redis.command('EXISTS', 'other:1')).toBe(0);
    const whoami = await aclGateway.request('/', {
      method: 'POST',
      body: '["ACL","WHOAMI"]',
      token: appToken,
    });
    expect(await whoami.json()).toEqual({ result: 'cachegate-write-app' });
  });

  it('keeps the single-token variables working beside the file', async () => {
    const response = await aclGateway.request('/', { method: 'POST', body: '["SET","other:1","v"]' });
    expect(await response.json()).toEqual({ result: 'OK' });
    const whoami = await aclGateway.request('/', { method: 'POST', body: '["ACL","WHOAMI"]' });
    expect(await whoami.json()).toEqual({ result: 'cachegate-write' });
  });

  it('applies Redis ACLs inside /pipeline and /multi-exec too', async () => {
    const pipeline = await aclGateway.request('/pipeline', {
      method: 'POST',
      body: JSON.stringify([
        ['SET', 'app:2', 'v'],
        ['SET', 'nope:2', 'v'],
      ]),
      token: appToken,
    });
    expect(await pipeline.json()).toEqual([{ result: 'OK' }, { error: expect.stringMatching(/^NOPERM/) }]);
    const transaction = await aclGateway.request('/multi-exec', {
      method: 'POST',
      body: JSON.stringify([['SET', 'nope:3', 'v']]),
      token: appToken,
    });
    expect(transaction.status).toBe(400);
    expect(await redis.command('EXISTS', 'nope:3')).toBe(0);
  });
});
