import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../../../client/test/helpers/proxy.js';
import { freePort } from '../../src/redis/embedded.js';
import { runCli, startCli } from '../helpers/cli.js';
import { type TestGateway, TOKENS, waitFor } from '../helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { withRedisAndGateway } from '../helpers/setup.js';

let redis: TestRedis;
let gateway: TestGateway;
withRedisAndGateway((started) => ({ redis, gateway } = started));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cachegate-warm-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes lines to a fresh file and returns its path. */
function ndjson(name: string, lines: readonly string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const entry = (key: string, value: unknown, ttl?: number | null) =>
  JSON.stringify({ key, value, ...(ttl === undefined ? {} : { ttl }) });
const toGateway = () => ['--url', gateway.url, '--token', TOKENS.write];

describe('cachegate warm --from <file.ndjson>', () => {
  it('loads every entry through the gateway, stored exactly as the cache API stores it, with its TTL', async () => {
    const values: unknown[] = [
      { a: [1, 2, { b: null }] },
      'text "quoted"',
      42,
      1.5,
      null,
      true,
      ['x'],
      'ünï©ødé 🚀',
      '',
      {},
    ];
    const file = ndjson(
      'values.ndjson',
      values.map((value, i) => entry(`k:${i}`, value, i === 0 ? 300 : i === 1 ? null : undefined)),
    );
    const result = await runCli(['warm', '--from', file, ...toGateway()]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^warm: 10 entries: 10 loaded, 0 skipped, 0 failed in /);
    for (let i = 0; i < values.length; i++) {
      const put = await gateway.request(`/v1/cache/ref:${i}`, {
        method: 'PUT',
        body: JSON.stringify({ value: values[i] }),
      });
      expect(put.status).toBe(200);
      expect(await redis.command('GET', `k:${i}`)).toBe(await redis.command('GET', `ref:${i}`));
      const read = await (await gateway.request(`/v1/cache/k:${i}`)).json();
      expect(read.value).toEqual(values[i]);
    }
    expect(Number(await redis.command('TTL', 'k:0'))).toBeGreaterThan(290);
    expect(Number(await redis.command('TTL', 'k:1'))).toBe(-1);
  });

  it('reports bad lines by number, loads the rest and exits 1', async () => {
    const file = ndjson('bad.ndjson', [
      entry('good:1', 1),
      '{"key": "broken", ',
      entry('good:2', 2),
      JSON.stringify({ key: 'no-value' }),
      JSON.stringify({ key: 'extra', value: 1, tags: [] }),
      entry('zero-ttl', 1, 0),
      '{"key": "precise", "value": 12345678901234567890}',
      '',
      '["not", "an", "object"]',
      entry('good:3', 3),
    ]);
    const result = await runCli(['warm', '--from', file, ...toGateway()]);
    expect(result.status).toBe(1);
    const problems = result.stderr.trim().split('\n');
    expect(problems.map((line) => /line (\d+):/.exec(line)?.[1])).toEqual(['2', '4', '5', '6', '7', '9']);
    expect(problems[1]).toContain('needs "value"');
    expect(problems[2]).toContain('unknown field "tags"');
    expect(problems[4]).toContain('send it as a string');
    expect(result.stdout).toMatch(/9 entries: 3 loaded, 0 skipped, 6 failed \(6 bad lines\)/);
    expect(await redis.command('MGET', 'good:1', 'good:2', 'good:3')).toEqual(['1', '2', '3']);
    expect(await redis.command('EXISTS', 'precise', 'zero-ttl', 'extra')).toBe(0);
  });

  it('reads stdin with "-", straight into Redis with --redis-url', async () => {
    const stdin = `${[entry('in:1', { n: 1 }, 60), entry('in:2', 'two')].join('\n')}\n`;
    const result = await runCli(['warm', '--from', '-', '--redis-url', redis.url], { stdin });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('2 loaded');
    expect(await redis.command('MGET', 'in:1', 'in:2')).toEqual(['{"n":1}', '"two"']);
    expect(Number(await redis.command('TTL', 'in:1'))).toBeGreaterThan(55);
  });

  it('--only-missing never replaces a key that exists, through the gateway or into Redis', async () => {
    const file = ndjson('missing.ndjson', [entry('kept', 'new'), entry('added', 'new')]);
    for (const destination of [toGateway(), ['--redis-url', redis.url]]) {
      await redis.command('FLUSHALL');
      await redis.command('SET', 'kept', '"old"');
      const result = await runCli(['warm', '--from', file, '--only-missing', ...destination]);
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('1 loaded, 1 skipped, 0 failed');
      expect(await redis.command('MGET', 'kept', 'added')).toEqual(['"old"', '"new"']);
    }
    const replaced = await runCli(['warm', '--from', file, ...toGateway()]);
    expect(replaced.stdout).toContain('2 loaded');
    expect(await redis.command('GET', 'kept')).toBe('"new"');
  });

  it('sends lines as read to POST /v1/cache/import, and falls back to /pipeline where there is no such route', async () => {
    const file = ndjson('fallback.ndjson', [entry('f:1', { n: 1 }, 60), 'broken', entry('f:2', 'two')]);
    const direct = await runCli(['warm', '--from', file, ...toGateway()]);
    expect(direct.stdout).toContain('2 loaded');
    await redis.command('FLUSHALL');
    // A server without the route (an older gateway, another Upstash-compatible one) answers 404.
    const proxy = await startProxy(gateway.url);
    proxy.behave((request) =>
      request.path.startsWith('/v1/cache/import') ? { kind: 'respond', status: 404 } : { kind: 'forward' },
    );
    try {
      const result = await runCli(['warm', '--from', file, '--url', proxy.url, '--token', TOKENS.write]);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('line 2: not JSON');
      expect(result.stdout).toContain('2 loaded, 0 skipped, 1 failed (1 bad lines)');
      expect(proxy.requests.map((r) => r.path)).toEqual(['/v1/cache/import', '/pipeline']);
      expect(await redis.command('MGET', 'f:1', 'f:2')).toEqual(['{"n":1}', '"two"']);
    } finally {
      await proxy.close();
    }
  });

  it('--dry-run checks everything and writes nothing', async () => {
    const file = ndjson('dry.ndjson', [entry('dry:1', 1), 'oops', entry('dry:2', 2)]);
    const result = await runCli(['warm', '--from', file, '--dry-run', ...toGateway()]);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^warm \(dry run\): 3 entries: 2 would be written, 1 failed/);
    expect(result.stderr).toContain('line 2:');
    expect(await redis.command('DBSIZE')).toBe(0);
  });

  it('--rate holds the pace (measured within a generous tolerance)', async () => {
    const file = ndjson(
      'rate.ndjson',
      Array.from({ length: 300 }, (_, i) => entry(`rate:${i}`, i)),
    );
    const started = Date.now();
    const result = await runCli(['warm', '--from', file, '--rate', '100', ...toGateway()]);
    const wallSeconds = (Date.now() - started) / 1000;
    expect(result.status).toBe(0);
    const rate = Number(/\(([\d,]+) entries\/s\)/.exec(result.stdout)?.[1]?.replaceAll(',', ''));
    // 300 entries at 100/s: the last batch starts after about 2.9 s.
    expect(rate).toBeGreaterThan(70);
    expect(rate).toBeLessThanOrEqual(110);
    expect(wallSeconds).toBeGreaterThan(2.5);
    expect(await redis.command('DBSIZE')).toBe(300);
  });

  it('stops cleanly on Ctrl-C, says where it stopped, and --resume-from goes on from there', async () => {
    const total = 3000;
    const file = ndjson(
      'long.ndjson',
      Array.from({ length: total }, (_, i) => entry(`long:${i + 1}`, i + 1)),
    );
    const running = startCli([
      'warm',
      '--from',
      file,
      '--rate',
      '1000',
      '--concurrency',
      '2',
      ...toGateway(),
    ]);
    await waitFor(async () => Number(await redis.command('DBSIZE')) > 300, 10_000, 'warm never got going');
    running.child.kill('SIGINT');
    const stopped = await running.done;
    expect(stopped.status).toBe(130);
    const resume = Number(/--resume-from (\d+)/.exec(stopped.stdout)?.[1]);
    expect(stopped.stdout).toContain(`stopped before line ${resume}`);
    expect(resume).toBeGreaterThan(300);
    expect(resume).toBeLessThan(total);
    // Every line before the resume position is in.
    const before = Array.from({ length: resume - 1 }, (_, i) => `long:${i + 1}`);
    expect(await redis.command('EXISTS', ...before)).toBe(resume - 1);
    expect(Number(await redis.command('DBSIZE'))).toBeLessThan(total);
    const resumed = await runCli(['warm', '--from', file, '--resume-from', String(resume), ...toGateway()]);
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toContain(`${(total - resume + 1).toLocaleString('en-US')} loaded`);
    expect(await redis.command('DBSIZE')).toBe(total);
  });

  it('stops at once with exit status 2 when the gateway refuses the token', async () => {
    const file = ndjson('token.ndjson', [entry('t', 1)]);
    const result = await runCli([
      'warm',
      '--from',
      file,
      '--url',
      gateway.url,
      '--token',
      'not-a-valid-token-at-all',
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('refused the token (401');
    expect(await redis.command('EXISTS', 't')).toBe(0);
  });

  it('stops with exit status 2 when the destination stays unreachable, saying where to resume', async () => {
    const file = ndjson('unreachable.ndjson', [entry('u:1', 1), entry('u:2', 2)]);
    const port = await freePort();
    const result = await runCli([
      'warm',
      '--from',
      file,
      '--url',
      `http://127.0.0.1:${port}`,
      '--token',
      TOKENS.write,
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('could not be reached');
    expect(result.stdout).toContain('go on with --resume-from 1');
  }, 20_000);

  it('prints its options with --help and points to it on a usage error', async () => {
    const help = await runCli(['warm', '--help']);
    expect(help.status).toBe(0);
    for (const flag of [
      '--from',
      '--url',
      '--redis-url',
      '--only-missing',
      '--rate',
      '--concurrency',
      '--resume-from',
      '--dry-run',
    ])
      expect(help.stdout).toContain(flag);
    const wrong = await runCli(['warm', '--from', 'x.ndjson', '--bogus']);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('Run cachegate warm --help');
    const noDestination = await runCli(['warm', '--from', 'x.ndjson']);
    expect(noDestination.status).toBe(2);
    expect(noDestination.stderr).toContain('a destination is required');
  });
});

describe('cachegate warm --from redis://', () => {
  let source: TestRedis;
  beforeAll(async () => {
    source = await startTestRedis();
  });
  afterAll(() => source?.stop());

  /** One key of every type, some with a TTL. */
  async function fillSource() {
    await source.command('FLUSHALL');
    await source.command('SET', 'type:string', 'v', 'EX', '500');
    await source.command('HSET', 'type:hash', 'f', '1', 'g', '2');
    await source.command('PEXPIRE', 'type:hash', '400000');
    await source.command('RPUSH', 'type:list', 'a', 'b', 'c');
    await source.command('SADD', 'type:set', 'x', 'y');
    await source.command('ZADD', 'type:zset', '1', 'one', '2', 'two');
    await source.command('XADD', 'type:stream', '1-1', 'field', 'value');
    await source.command('SET', 'other:skipped', 'v');
  }

  async function expectCopied(target: TestRedis) {
    expect(await target.command('GET', 'type:string')).toBe('v');
    expect(await target.command('HGETALL', 'type:hash')).toEqual(['f', '1', 'g', '2']);
    expect(await target.command('LRANGE', 'type:list', '0', '-1')).toEqual(['a', 'b', 'c']);
    expect((await target.command('SMEMBERS', 'type:set')) as string[]).toHaveLength(2);
    expect(await target.command('ZRANGE', 'type:zset', '0', '-1', 'WITHSCORES')).toEqual([
      'one',
      '1',
      'two',
      '2',
    ]);
    expect(await target.command('XLEN', 'type:stream')).toBe(1);
    const stringTtl = Number(await target.command('TTL', 'type:string'));
    expect(stringTtl).toBeGreaterThan(490);
    expect(stringTtl).toBeLessThanOrEqual(500);
    expect(Number(await target.command('PTTL', 'type:hash'))).toBeGreaterThan(390_000);
    expect(Number(await target.command('TTL', 'type:list'))).toBe(-1);
    expect(await target.command('EXISTS', 'other:skipped')).toBe(0);
  }

  it('copies every type with its TTL into Redis directly (DUMP, RESTORE), with --match', async () => {
    await fillSource();
    const result = await runCli([
      'warm',
      '--from',
      source.url,
      '--match',
      'type:*',
      '--redis-url',
      redis.url,
    ]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^warm: 6 keys: 6 loaded/);
    await expectCopied(redis);
  });

  it('copies through the gateway with an admin token (RESTORE is @dangerous), replacing what exists', async () => {
    await fillSource();
    await redis.command('SET', 'type:string', 'old');
    const result = await runCli([
      'warm',
      '--from',
      source.url,
      '--match',
      'type:*',
      '--url',
      gateway.url,
      '--token',
      TOKENS.admin,
    ]);
    expect(result.status).toBe(0);
    await expectCopied(redis);
    const writeToken = await runCli(['warm', '--from', source.url, '--match', 'type:*', ...toGateway()]);
    expect(writeToken.status).toBe(2);
    expect(writeToken.stderr).toContain('403');
  });

  it('--type and --only-missing: only hashes, leaving an existing one as it is', async () => {
    await fillSource();
    await redis.command('HSET', 'type:hash', 'mine', '1');
    await source.command('HSET', 'type:hash2', 'f', '1');
    const result = await runCli([
      'warm',
      '--from',
      source.url,
      '--type',
      'hash',
      '--only-missing',
      '--redis-url',
      redis.url,
    ]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('1 loaded, 1 skipped');
    expect(await redis.command('HGETALL', 'type:hash')).toEqual(['mine', '1']);
    expect(await redis.command('HGETALL', 'type:hash2')).toEqual(['f', '1']);
    expect(await redis.command('EXISTS', 'type:string')).toBe(0);
  });
});

describe('cachegate hot-keys', () => {
  it('prints the hot set as NDJSON that cachegate warm loads back after a flush', async () => {
    await redis.command('SET', 'hot:a', '{"x":1}', 'EX', '600');
    await redis.command('SET', 'hot:b', '"b"');
    await redis.command('RPUSH', 'hot:list', '1');
    for (let i = 0; i < 3; i++) await gateway.request('/get/hot:a');
    await gateway.request('/get/hot:b');
    await gateway.request('/', { method: 'POST', body: '["LLEN","hot:list"]' });
    // Keys read by earlier tests are in the hot set too, gone from Redis since: left out of the output.
    const printed = await runCli([
      'hot-keys',
      '--url',
      gateway.url,
      '--token',
      TOKENS.admin,
      '--limit',
      '1000',
    ]);
    expect(printed.status).toBe(0);
    const lines = printed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.key)).toEqual(['hot:a', 'hot:b']);
    expect(lines[0]).toMatchObject({ value: { x: 1 } });
    expect(printed.stderr).toMatch(
      /^hot-keys: 2 entries printed, \d+ keys left out \(not strings, or gone\)/,
    );
    await redis.command('FLUSHALL');
    const warmed = await runCli(['warm', '--from', '-', ...toGateway()], { stdin: printed.stdout });
    expect(warmed.status).toBe(0);
    expect(await redis.command('MGET', 'hot:a', 'hot:b')).toEqual(['{"x":1}', '"b"']);
    expect(Number(await redis.command('TTL', 'hot:a'))).toBeGreaterThan(590);
    const denied = await runCli(['hot-keys', '--url', gateway.url, '--token', TOKENS.write]);
    expect(denied.status).toBe(2);
    expect(denied.stderr).toContain('403');
  });
});
