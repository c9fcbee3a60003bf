import { Cachegate } from '@cachegate/client';
import { createHybridClient, type HybridClient } from '@cachegate/client/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deadUrl, type Stack, startStack, TOKENS } from './helpers/stack.js';

let stack: Stack;
let http: Cachegate;
/** A hybrid client whose gateway URL refuses connections: every command takes the direct Redis path. */
let direct: HybridClient;

beforeAll(async () => {
  stack = await startStack();
  http = new Cachegate({ url: stack.gateway.url, token: TOKENS.write });
  direct = createHybridClient({
    url: await deadUrl(),
    token: TOKENS.write,
    redisUrl: stack.redis.url,
    env: {},
  });
});
afterAll(async () => {
  await direct.close();
  await stack.stop();
});
beforeEach(() => stack.flush());

const VALUES: [string, unknown][] = [
  ['object', { name: 'Ada', nested: { list: [1, 'two', null, true], empty: {} } }],
  ['unicode', 'Olá, ação, 日本語, Ελληνικά, עברית'],
  ['emoji', '😀👩‍👩‍👧‍👦🏳️‍🌈 and text'],
  ['number-like string', '42'],
  ['float-like string', '3.14'],
  ['boolean-like string', 'true'],
  ['null-like string', 'null'],
  ['empty string', ''],
  ['quotes and escapes', 'line1\nline2\t"quoted" \\ back\\slash \u0000 nul'],
  ['lone surrogate', 'broken \ud800 pair'],
  ['number', 42],
  ['negative float', -1.5e-7],
  ['boolean', false],
  ['null', null],
  ['array', [[], [{}], ['😀']]],
  ['long string', 'x'.repeat(100_000)],
];

describe('a value written through one transport reads back identically through the other', () => {
  it('the direct client really uses Redis directly', async () => {
    await direct.get('warm-up');
    expect(direct.activeTransport).toBe('redis');
  });

  it.each(VALUES)('%s: HTTP -> direct Redis', async (_label, value) => {
    await http.set('k', value);
    expect(await direct.get('k')).toEqual(value);
    expect(await direct.mget(['k'])).toEqual([value]);
  });

  it.each(VALUES)('%s: direct Redis -> HTTP', async (_label, value) => {
    await direct.set('k', value);
    expect(await http.get('k')).toEqual(value);
    expect(await http.mget(['k'])).toEqual([value]);
  });

  it('both store exactly the same bytes', async () => {
    const value = { text: '😀 "42" ação', n: 42 };
    await http.set('via-http', value);
    await direct.set('via-redis', value);
    expect(await stack.redis.command('GET', 'via-http')).toBe(await stack.redis.command('GET', 'via-redis'));
  });

  it('raw replies have the same shape on both paths', async () => {
    await stack.redis.command('HSET', 'h', 'a', '1', 'b', '😀');
    await stack.redis.command('RPUSH', 'l', 'x', 'y');
    await stack.redis.command('EVAL', "return redis.call('SET', KEYS[1], '\\255ok')", '1', 'bin');
    const commands = [
      ['HGETALL', 'h'],
      ['LRANGE', 'l', '0', '-1'],
      ['GET', 'bin'],
      ['GET', 'missing'],
      ['TTL', 'h'],
      ['SET', 'plain', 'raw text'],
      ['GET', 'plain'],
      ['PING'],
    ];
    for (const command of commands) {
      expect(await direct.command(command), command.join(' ')).toEqual(await http.command(command));
    }
  });

  it('a value written raw by another client reads back as the same string on both paths', async () => {
    await stack.redis.command('SET', 'raw', 'hello world');
    expect(await http.get('raw')).toBe('hello world');
    expect(await direct.get('raw')).toBe('hello world');
  });

  it('counters and transactions agree across paths', async () => {
    await http.incr('c');
    await direct.incr('c');
    const [afterDirect] = await direct.multi().incr('c').exec();
    const [afterHttp] = await http.multi().incr('c').exec();
    expect([afterDirect, afterHttp]).toEqual([3, 4]);
    expect(await direct.get('c')).toBe(4);
  });
});
