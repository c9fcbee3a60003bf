import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { roleAllows } from '../../src/redis/grants.js';
import { startGateway, type TestGateway, type TestResponse, TOKENS, waitFor } from '../helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// Issue 11, classes 3-5: scripts run inside Redis, where the gateway cannot see what they call. Every case
// runs against a production-like set-up: a password-protected Redis, a token per scope.
const PASSWORD = 'hostile-suite-redis-password';
let redis: TestRedis;
let gateway: TestGateway;

beforeAll(async () => {
  // A busy threshold well past the command timeout, as in production (5 s and 2 s by default): a kill that
  // had to log in first would time out before Redis read it. Shorter than the default to keep this quick.
  redis = await startTestRedis({ password: PASSWORD, config: ['busy-reply-threshold 1500'] });
  gateway = await startGateway(redis.url, {
    CACHEGATE_REDIS_PASSWORD: PASSWORD,
    CACHEGATE_COMMAND_TIMEOUT_MS: '400',
  });
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});
beforeEach(async () => {
  await redis.command('FLUSHALL');
  await redis.command('FUNCTION', 'FLUSH');
  await redis.command('SET', 'canary', 'still here');
});

const run = (command: unknown[], token: string) =>
  gateway.request('/', { method: 'POST', body: JSON.stringify(command), token });

async function expectRefusedInsideRedis(response: TestResponse) {
  expect(response.status).toBe(400);
  const { error } = await response.json();
  expect(error).toMatch(/can't run this command|no permissions|NOPERM/i);
  expect(await redis.command('GET', 'canary')).toBe('still here');
}

/**
 * What a write token must not reach from inside a script: each was reachable before (issue 11, class 4).
 * (CONFIG and DEBUG are refused inside scripts by Redis itself.)
 */
const ADMIN_CALLS = [
  "redis.call('FLUSHALL')",
  "redis.call('KEYS', '*')",
  "redis.call('INFO')",
  "redis.call('SWAPDB', 0, 1)",
  "redis.call('RESTORE', 'r', 0, 'x')",
  "redis.call('SLOWLOG', 'GET')",
  "redis.call('MIGRATE', '127.0.0.1', 1, 'canary', 0, 100)",
];

describe('scripts are held to the scope of the token that sent them', () => {
  it.each(ADMIN_CALLS)('a write token cannot run %s through EVAL, EVALSHA or a function', async (call) => {
    await expectRefusedInsideRedis(await run(['EVAL', `return ${call}`, '0'], TOKENS.write));
    const sha = await (await run(['SCRIPT', 'LOAD', `return ${call}`], TOKENS.write)).json();
    await expectRefusedInsideRedis(await run(['EVALSHA', sha.result, '0'], TOKENS.write));
    const library = `#!lua name=hostile\nredis.register_function('f', function() return ${call} end)`;
    expect((await run(['FUNCTION', 'LOAD', 'REPLACE', library], TOKENS.admin)).status).toBe(200);
    await expectRefusedInsideRedis(await run(['FCALL', 'f', '0'], TOKENS.write));
  });

  it.each(["redis.call('KEYS', '*')", "redis.call('INFO')", "redis.call('SLOWLOG', 'GET')"])(
    'a read token cannot run %s through EVAL_RO, EVALSHA_RO or FCALL_RO',
    async (call) => {
      await expectRefusedInsideRedis(await run(['EVAL_RO', `return ${call}`, '0'], TOKENS.read));
      const sha = await (await run(['SCRIPT', 'LOAD', `return ${call}`], TOKENS.write)).json();
      await expectRefusedInsideRedis(await run(['EVALSHA_RO', sha.result, '0'], TOKENS.read));
      const library = `#!lua name=ro\nredis.register_function{function_name='f', callback=function() return ${call} end, flags={'no-writes'}}`;
      expect((await run(['FUNCTION', 'LOAD', 'REPLACE', library], TOKENS.admin)).status).toBe(200);
      await expectRefusedInsideRedis(await run(['FCALL_RO', 'f', '0'], TOKENS.read));
    },
  );

  it('lets scripts do what the scope allows: a write token writes, a read token reads', async () => {
    const wrote = await run(
      ['EVAL', "return redis.call('SET', KEYS[1], ARGV[1])", '1', 'k', 'v'],
      TOKENS.write,
    );
    expect(await wrote.json()).toEqual({ result: 'OK' });
    const read = await run(['EVAL_RO', "return redis.call('GET', KEYS[1])", '1', 'k'], TOKENS.read);
    expect(await read.json()).toEqual({ result: 'v' });
    const admin = await run(['EVAL', "return redis.call('DBSIZE')", '0'], TOKENS.admin);
    expect(await admin.json()).toEqual({ result: 2 });
  });

  it('grants each scope user exactly what the command policy allows, command by command', async () => {
    const table = gateway.app.backend.commandTable;
    expect(table).toBeDefined();
    let checked = 0;
    for (const container of table?.all() ?? []) {
      for (const info of container.subcommands?.values() ?? [container]) {
        const words = info.name.split('|');
        const args = [...words, ...Array(Math.max(0, Math.abs(info.arity) - words.length)).fill('1')];
        for (const scope of ['read', 'write'] as const) {
          const verdict = String(await redis.command('ACL', 'DRYRUN', `cachegate-${scope}`, ...args));
          // PSUBSCRIBE's pattern must match a channel rule literally, which the fenced rules never do (the
          // gateway subscribes as its own user): the command is granted, the pattern is not.
          const redisAllows = verdict === 'OK' || verdict.includes("access the '1' channel");
          if (!redisAllows) expect(verdict).toMatch(/no permissions to run/);
          expect({ command: info.name, scope, allowed: redisAllows }).toEqual({
            command: info.name,
            scope,
            allowed: roleAllows(info, scope),
          });
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(400);
  });
});

describe('what every caller shares: function libraries, the script cache, the allocator, the topology', () => {
  it("a write token cannot replace an admin's function library, so the admin never runs its code", async () => {
    const own =
      "#!lua name=adminlib\nredis.register_function('stats', function() return redis.call('DBSIZE') end)";
    expect((await run(['FUNCTION', 'LOAD', own], TOKENS.admin)).status).toBe(200);
    const hostile =
      "#!lua name=adminlib\nredis.register_function('stats', function() return redis.call('FLUSHALL') end)";
    const replaced = await run(['FUNCTION', 'LOAD', 'REPLACE', hostile], TOKENS.write);
    expect(replaced.status).toBe(403);
    expect((await replaced.json()).error).toContain('FUNCTION LOAD');
    expect(await (await run(['FCALL', 'stats', '0'], TOKENS.admin)).json()).toEqual({ result: 1 });
    expect(await redis.command('GET', 'canary')).toBe('still here');
  });

  it.each([
    [['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function('x', function() return 1 end)"], 'write'],
    [['FUNCTION', 'DELETE', 'adminlib'], 'write'],
    [['FUNCTION', 'FLUSH'], 'write'],
    [['FUNCTION', 'RESTORE', 'x'], 'write'],
    [['FUNCTION', 'KILL'], 'write'],
    [['SCRIPT', 'FLUSH'], 'write'],
    [['SCRIPT', 'KILL'], 'write'],
    [['MEMORY', 'PURGE'], 'write'],
    [['MEMORY', 'STATS'], 'read'],
    [['MEMORY', 'DOCTOR'], 'read'],
    [['CLUSTER', 'NODES'], 'write'],
  ])('%j needs an admin token (tried with %s), in the policy and in Redis', async (command, scope) => {
    const response = await run(command, scope === 'read' ? TOKENS.read : TOKENS.write);
    expect(response.status).toBe(403);
    expect((await response.json()).error).toContain('needs a token with scope "admin"');
    const verdict = await redis.command('ACL', 'DRYRUN', `cachegate-${scope}`, ...command.map(String));
    expect(String(verdict)).toMatch(/no permissions to run/);
  });

  it('still lets every scope read what it needs: SCRIPT LOAD and EXISTS for writers, MEMORY USAGE for readers', async () => {
    expect((await run(['SCRIPT', 'LOAD', 'return 1'], TOKENS.write)).status).toBe(200);
    expect((await run(['SCRIPT', 'EXISTS', 'abc'], TOKENS.write)).status).toBe(200);
    expect(await (await run(['MEMORY', 'USAGE', 'canary'], TOKENS.read)).json()).toEqual({
      result: expect.any(Number),
    });
  });
});

describe('commands that would take over the shared connection', () => {
  it('denies SCRIPT DEBUG to every scope, and every other caller keeps getting its own replies', async () => {
    for (const token of [TOKENS.read, TOKENS.write, TOKENS.admin]) {
      for (const mode of ['YES', 'SYNC', 'NO']) {
        const response = await run(['SCRIPT', 'DEBUG', mode], token);
        expect(response.status).toBe(403);
        expect((await response.json()).error).toContain('SCRIPT DEBUG');
      }
    }
    await run(['EVAL', "return redis.call('SET', 'k', 'v')", '0'], TOKENS.write);
    expect(await (await run(['GET', 'k'], TOKENS.read)).json()).toEqual({ result: 'v' });
  });

  it('denies ASKING, which would redirect the next command of whoever shares the connection', async () => {
    const response = await run(['ASKING'], TOKENS.admin);
    expect(response.status).toBe(403);
  });
});

describe('a runaway script', () => {
  it('is killed from a separate connection, so other callers are served again soon after the timeout', async () => {
    const started = Date.now();
    const stuck = run(['EVAL_RO', 'while true do end', '0'], TOKENS.read);
    await new Promise((done) => setTimeout(done, 50));
    // Another caller, on another scope's connection: answered once Redis let go of the script.
    let served = 0;
    await waitFor(
      async () => {
        const response = await run(['GET', 'canary'], TOKENS.write);
        if (response.status !== 200) return false;
        served = Date.now() - started;
        return true;
      },
      10_000,
      'nobody was served while the script ran',
    );
    const response = await stuck;
    expect(response.status).toBe(503);
    expect(response.headers.get('cachegate-executed')).toBeNull();
    // busy-reply-threshold (1.5 s), when Redis reads the kill sent at the command timeout (0.4 s), + slack.
    expect(served).toBeLessThan(4000);
    expect(await (await run(['GET', 'canary'], TOKENS.read)).json()).toEqual({ result: 'still here' });
  });

  it('in a function is killed with FUNCTION KILL', async () => {
    const library =
      "#!lua name=spin\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}";
    expect((await run(['FUNCTION', 'LOAD', library], TOKENS.admin)).status).toBe(200);
    const stuck = run(['FCALL_RO', 'spin', '0'], TOKENS.read);
    expect((await stuck).status).toBe(503);
    await waitFor(
      async () => (await run(['GET', 'canary'], TOKENS.write)).status === 200,
      10_000,
      'the function was never killed',
    );
  });
});

describe('without scope users', () => {
  it('needs an admin token for scripting commands when CACHEGATE_SCOPE_USERS=off', async () => {
    const off = await startGateway(redis.url, {
      CACHEGATE_REDIS_PASSWORD: PASSWORD,
      CACHEGATE_SCOPE_USERS: 'off',
    });
    try {
      const evalFlush = JSON.stringify(['EVAL', "return redis.call('FLUSHALL')", '0']);
      const written = await off.request('/', { method: 'POST', body: evalFlush, token: TOKENS.write });
      expect(written.status).toBe(403);
      expect((await written.json()).error).toContain('needs a token with scope "admin"');
      const evalRo = JSON.stringify(['EVAL_RO', "return redis.call('KEYS', '*')", '0']);
      const read = await off.request('/', { method: 'POST', body: evalRo, token: TOKENS.read });
      expect(read.status).toBe(403);
      expect((await read.json()).error).toContain('needs a token with scope "admin"');
      expect(await redis.command('GET', 'canary')).toBe('still here');
      const ping = await off.request('/', {
        method: 'POST',
        body: '["EVAL","return 1","0"]',
        token: TOKENS.admin,
      });
      expect(await ping.json()).toEqual({ result: 1 });
    } finally {
      await off.close();
    }
  });

  it('falls back to the same rule when the gateway’s Redis user may not manage ACL users', async () => {
    await redis.command('ACL', 'SETUSER', 'limited', 'on', '>limited-password', '~*', '&*', '+@all', '-acl');
    const limited = await startGateway(`redis://limited:limited-password@127.0.0.1:${redis.port}`);
    try {
      const response = await limited.request('/', { method: 'POST', body: '["EVAL","return 1","0"]' });
      expect(response.status).toBe(403);
      const read = await limited.request('/', {
        method: 'POST',
        body: '["GET","canary"]',
        token: TOKENS.read,
      });
      expect(await read.json()).toEqual({ result: 'still here' });
    } finally {
      await limited.close();
    }
  });
});
