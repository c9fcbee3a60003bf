import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripUpstashFlags } from '../src/core/upstash-scripts.js';
import { startGateway, type TestGateway, TOKENS, waitFor } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
let gateway: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startGateway(redis.url);
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const post = async (path: string, body: unknown, token: string = TOKENS.write) =>
  (await gateway.request(path, { method: 'POST', body: JSON.stringify(body), token })).json();

const SCRIPT = "#!lua flags=allow-key-locking,no-writes\nreturn redis.call('GET', KEYS[1])";

describe('scripts written for Upstash (shebang flags upstream Redis does not know)', () => {
  it('upstream Redis itself refuses the flag: this is what the gateway works around', async () => {
    await expect(redis.command('EVAL', SCRIPT, '0')).rejects.toThrow(/Unexpected flag in script shebang/);
  });

  it('strips only the Upstash-only flag, keeping the rest of the script byte for byte', () => {
    expect(stripUpstashFlags(SCRIPT)).toBe("#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])");
    expect(stripUpstashFlags('#!lua flags=no-writes,allow-key-locking,allow-oom\nreturn 1')).toBe(
      '#!lua flags=no-writes,allow-oom\nreturn 1',
    );
    expect(stripUpstashFlags('#!lua flags=allow-key-locking')).toBe('#!lua flags=');
    for (const untouched of ['return 1', '#!lua flags=no-writes\nreturn 1', '#!lua\nallow-key-locking']) {
      expect(stripUpstashFlags(untouched)).toBeUndefined();
    }
    // Raw bytes (a path-form body): the bytes after the first line are kept as they are.
    const bytes = Buffer.concat([
      Buffer.from('#!lua flags=allow-key-locking\nreturn "'),
      Buffer.from([0xff, 0x22]),
    ]);
    expect(stripUpstashFlags(bytes)).toEqual(
      Buffer.concat([Buffer.from('#!lua flags=\nreturn "'), Buffer.from([0xff, 0x22])]),
    );
  });

  it('EVALSHA by the digest of the text sent, after SCRIPT LOAD, before and after a Redis restart', async () => {
    await redis.command('SET', 'k', 'before');
    expect(await post('/', ['SCRIPT', 'LOAD', SCRIPT])).toEqual({ result: sha1(SCRIPT) });
    expect(await post('/', ['SCRIPT', 'EXISTS', sha1(SCRIPT), sha1('unknown')])).toEqual({ result: [1, 0] });
    expect(await post('/', ['EVALSHA', sha1(SCRIPT), '1', 'k'])).toEqual({ result: 'before' });
    expect(await post('/', ['EVALSHA_RO', sha1(SCRIPT), '1', 'k'], TOKENS.read)).toEqual({
      result: 'before',
    });

    await redis.stop();
    redis = await redis.restart();
    await waitFor(
      async () => (await post('/', ['SET', 'k', 'after'])).result === 'OK',
      10_000,
      'no reconnect',
    );
    // Redis forgot its scripts: a plain miss, which clients answer with EVAL (or SCRIPT LOAD).
    const miss = await post('/', ['EVALSHA', sha1(SCRIPT), '1', 'k']);
    expect(miss.error).toMatch(/^NOSCRIPT/);
    expect(await post('/', ['EVAL', SCRIPT, '1', 'k'])).toEqual({ result: 'after' });
    expect(await post('/', ['EVALSHA', sha1(SCRIPT), '1', 'k'])).toEqual({ result: 'after' });
  });

  it('inside /pipeline and /multi-exec, and in the path form', async () => {
    await redis.command('SET', 'p', 'v');
    const loaded = '#!lua flags=allow-key-locking\nreturn ARGV[1]';
    expect(
      await post('/pipeline', [
        ['SCRIPT', 'LOAD', loaded],
        ['EVALSHA', sha1(loaded), '0', 'x'],
        ['EVAL', SCRIPT, '1', 'p'],
      ]),
    ).toEqual([{ result: sha1(loaded) }, { result: 'x' }, { result: 'v' }]);
    expect(
      await post('/multi-exec', [
        ['EVALSHA', sha1(loaded), '0', 'y'],
        ['SCRIPT', 'EXISTS', sha1(loaded)],
      ]),
    ).toEqual([{ result: 'y' }, { result: [1] }]);
    // The path form's body is the script as raw bytes.
    const pathForm = await gateway.request('/script/load', { method: 'POST', body: loaded });
    expect(await pathForm.json()).toEqual({ result: sha1(loaded) });
  });
});
