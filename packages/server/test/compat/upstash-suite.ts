import { createHash } from 'node:crypto';
import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, TOKENS, waitFor } from '../helpers/gateway.js';
import { describeRatelimitCompat } from './ratelimit-suite.js';

/** A Redis deployment the suite runs against: standalone, Cluster or Sentinel. */
export interface CompatTarget {
  /** Gateway settings that point at this deployment. */
  gatewayEnv: Record<string, string>;
  /** Empties the whole deployment. */
  flush(): Promise<void>;
  /** Writes raw bytes with a direct Redis client, as another program would. */
  rawSet(key: string, value: string): Promise<void>;
  /**
   * Makes other clients' writes visible to the suite's client, which holds no token for them (with reads
   * on replicas: until the replicas have them, as any other reader would wait). @default nothing to wait for
   */
  catchUp?(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The real @upstash/redis SDK against cachegate, with its defaults: base64 responses, auto-pipelining and
 * read-your-writes all on. Only the URL and token differ from talking to Upstash. Keys of one multi-key
 * command share a {hash tag}, as Redis Cluster requires of any client; in standalone and Sentinel mode the
 * tag is just part of the name.
 */
export function describeUpstashCompat(name: string, start: () => Promise<CompatTarget>) {
  let target: CompatTarget | undefined;
  let gateway: TestGateway;
  let sdk: Redis;

  beforeAll(async () => {
    target = await start();
    gateway = await startGateway('redis://unused', { CACHEGATE_REDIS_URL: '', ...target.gatewayEnv });
    sdk = new Redis({ url: gateway.url, token: TOKENS.write, enableTelemetry: false, retry: false });
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await target?.stop();
  });
  beforeEach(async () => {
    await target?.flush();
  });

  describeRatelimitCompat(() => sdk);

  describe(`@upstash/redis against cachegate (${name})`, () => {
    it('strings: set, get, options, getdel, append, strlen, mset/mget', async () => {
      expect(await sdk.set('s', 'hello')).toBe('OK');
      expect(await sdk.get('s')).toBe('hello');
      expect(await sdk.set('s', 'x', { nx: true })).toBeNull();
      expect(await sdk.set('s', 'world', { xx: true, get: true })).toBe('hello');
      expect(await sdk.append('s', '!')).toBe(6);
      expect(await sdk.strlen('s')).toBe(6);
      expect(await sdk.getdel('s')).toBe('world!');
      expect(await sdk.get('s')).toBeNull();
      expect(await sdk.mset({ '{s}a': 1, '{s}b': 'two' })).toBe('OK');
      expect(await sdk.mget('{s}a', '{s}b', '{s}c')).toEqual([1, 'two', null]);
      expect(await sdk.getrange('{s}b', 0, 1)).toBe('tw');
    });

    it('JSON objects and arrays round-trip', async () => {
      const value = { id: 1, name: 'ada', tags: ['x', 'y'], nested: { ok: true, n: null } };
      await sdk.set('obj', value);
      expect(await sdk.get('obj')).toEqual(value);
      await sdk.set('arr', [1, 'two', { three: 3 }]);
      expect(await sdk.get('arr')).toEqual([1, 'two', { three: 3 }]);
    });

    it('numbers and number-like strings behave as on Upstash', async () => {
      await sdk.set('n', 42);
      expect(await sdk.get('n')).toBe(42);
      await sdk.set('f', 3.25);
      expect(await sdk.get('f')).toBe(3.25);
      // The SDK stores strings raw and parses on read, exactly as against Upstash.
      await sdk.set('numeric-string', '123');
      expect(await sdk.get('numeric-string')).toBe(123);
      await sdk.set('leading-zero', '007');
      expect(await sdk.get('leading-zero')).toBe('007');
      await sdk.set('big', '12345678901234567890');
      expect(await sdk.get('big')).toBe('12345678901234567890');
    });

    it('counters: incr, incrby, incrbyfloat, decr, decrby', async () => {
      expect(await sdk.incr('c')).toBe(1);
      expect(await sdk.incrby('c', 10)).toBe(11);
      expect(await sdk.decr('c')).toBe(10);
      expect(await sdk.decrby('c', 5)).toBe(5);
      expect(await sdk.incrbyfloat('fl', 1.5)).toBe(1.5);
      expect(await sdk.incrbyfloat('fl', 0.25)).toBe(1.75);
    });

    it('expiry: expire, ttl, pttl, persist, setex, psetex, expireat', async () => {
      await sdk.set('e', 'v', { ex: 100 });
      expect(await sdk.ttl('e')).toBeGreaterThan(95);
      expect(await sdk.pttl('e')).toBeGreaterThan(95_000);
      expect(await sdk.persist('e')).toBe(1);
      expect(await sdk.ttl('e')).toBe(-1);
      expect(await sdk.expire('e', 50)).toBe(1);
      expect(await sdk.ttl('e')).toBeGreaterThan(45);
      expect(await sdk.setex('sx', 30, 'v')).toBe('OK');
      expect(await sdk.psetex('px', 30_000, 'v')).toBe('OK');
      expect(await sdk.ttl('px')).toBeGreaterThan(25);
      expect(await sdk.expireat('e', Math.floor(Date.now() / 1000) + 1000)).toBe(1);
      expect(await sdk.ttl('missing')).toBe(-2);
      await sdk.set('short', 'v', { px: 50 });
      await new Promise((done) => setTimeout(done, 120));
      expect(await sdk.get('short')).toBeNull();
    });

    it('keys: exists, del, unlink, type, rename, touch, randomkey, dbsize, copy', async () => {
      await sdk.mset({ '{k}1': 'a', '{k}2': 'b' });
      expect(await sdk.exists('{k}1', '{k}2', '{k}3')).toBe(2);
      expect(await sdk.type('{k}1')).toBe('string');
      expect(await sdk.rename('{k}1', '{k}9')).toBe('OK');
      expect(await sdk.touch('{k}9', '{k}2')).toBe(2);
      expect(['{k}9', '{k}2']).toContain(await sdk.randomkey());
      expect(await sdk.dbsize()).toBe(2);
      expect(await sdk.copy('{k}9', '{k}10')).toBe('COPIED');
      expect(await sdk.del('{k}9', '{k}10')).toBe(2);
      expect(await sdk.unlink('{k}2')).toBe(1);
      expect(await sdk.dbsize()).toBe(0);
    });

    it('hashes', async () => {
      expect(await sdk.hset('h', { a: 1, b: 'two', c: { x: 1 } })).toBe(3);
      expect(await sdk.hget('h', 'a')).toBe(1);
      expect(await sdk.hgetall('h')).toEqual({ a: 1, b: 'two', c: { x: 1 } });
      expect(await sdk.hmget('h', 'a', 'b', 'z')).toEqual({ a: 1, b: 'two', z: null });
      expect(await sdk.hincrby('h', 'a', 2)).toBe(3);
      expect(await sdk.hexists('h', 'b')).toBe(1);
      expect((await sdk.hkeys('h')).sort()).toEqual(['a', 'b', 'c']);
      expect(await sdk.hlen('h')).toBe(3);
      expect(await sdk.hdel('h', 'c')).toBe(1);
      expect(await sdk.hsetnx('h', 'a', 9)).toBe(0);
      const [cursor, fields] = await sdk.hscan('h', 0);
      expect(cursor).toBe('0');
      expect(fields).toHaveLength(4);
    });

    it('lists', async () => {
      expect(await sdk.rpush('{l}', 'a', 'b', 'c')).toBe(3);
      expect(await sdk.lpush('{l}', 'z')).toBe(4);
      expect(await sdk.lrange('{l}', 0, -1)).toEqual(['z', 'a', 'b', 'c']);
      expect(await sdk.lpop('{l}')).toBe('z');
      expect(await sdk.rpop('{l}', 2)).toEqual(['c', 'b']);
      expect(await sdk.llen('{l}')).toBe(1);
      expect(await sdk.lindex('{l}', 0)).toBe('a');
      expect(await sdk.lset('{l}', 0, 'A')).toBe('OK');
      await sdk.rpush('{l}', 'B', 'A');
      expect(await sdk.lpos('{l}', 'A')).toBe(0);
      expect(await sdk.lrem('{l}', 0, 'A')).toBe(2);
      expect(await sdk.lmove('{l}', '{l}2', 'left', 'right')).toBe('B');
    });

    it('sets', async () => {
      expect(await sdk.sadd('{set}1', 'a', 'b', 'c')).toBe(3);
      await sdk.sadd('{set}2', 'b', 'c', 'd');
      expect((await sdk.smembers('{set}1')).sort()).toEqual(['a', 'b', 'c']);
      expect(await sdk.sismember('{set}1', 'a')).toBe(1);
      expect((await sdk.sinter('{set}1', '{set}2')).sort()).toEqual(['b', 'c']);
      expect((await sdk.sunion('{set}1', '{set}2')).sort()).toEqual(['a', 'b', 'c', 'd']);
      expect(await sdk.sdiff('{set}1', '{set}2')).toEqual(['a']);
      expect(await sdk.scard('{set}1')).toBe(3);
      expect(await sdk.srem('{set}1', 'a')).toBe(1);
      expect(await sdk.smismember('{set}1', ['a', 'b'])).toEqual([0, 1]);
      expect(['b', 'c']).toContain(await sdk.srandmember('{set}1'));
    });

    it('sorted sets', async () => {
      expect(
        await sdk.zadd(
          'z',
          { score: 1, member: 'a' },
          { score: 2.5, member: 'b' },
          { score: 3, member: 'c' },
        ),
      ).toBe(3);
      expect(await sdk.zscore('z', 'b')).toBe(2.5);
      expect(await sdk.zrange('z', 0, -1)).toEqual(['a', 'b', 'c']);
      expect(await sdk.zrange('z', 0, -1, { withScores: true })).toEqual(['a', 1, 'b', 2.5, 'c', 3]);
      expect(await sdk.zrange('z', 2, 3, { byScore: true })).toEqual(['b', 'c']);
      expect(await sdk.zrange('z', 0, 0, { rev: true })).toEqual(['c']);
      expect(await sdk.zrank('z', 'c')).toBe(2);
      expect(await sdk.zincrby('z', 10, 'a')).toBe(11);
      expect(await sdk.zcard('z')).toBe(3);
      expect(await sdk.zcount('z', 0, 5)).toBe(2);
      expect(await sdk.zpopmin('z', 1)).toEqual(['b', 2.5]);
      expect(await sdk.zrem('z', 'c')).toBe(1);
    });

    it('SCAN with match, count and type', async () => {
      for (let i = 0; i < 30; i++) await sdk.set(`scan:${i}`, i);
      await sdk.hset('scan:hash', { f: 1 });
      const seen = new Set<string>();
      let cursor: string | number = 0;
      do {
        const [next, keys]: [string, string[]] = await sdk.scan(cursor, { match: 'scan:*', count: 10 });
        for (const key of keys) seen.add(key);
        cursor = next;
      } while (String(cursor) !== '0');
      expect(seen.size).toBe(31);
      const hashes: string[] = [];
      cursor = 0;
      do {
        const [next, keys]: [string, string[]] = await sdk.scan(cursor, {
          match: 'scan:*',
          count: 1000,
          type: 'hash',
        });
        hashes.push(...keys);
        cursor = next;
      } while (String(cursor) !== '0');
      expect(hashes).toEqual(['scan:hash']);
    });

    it('scripts: eval, evalsha, scriptLoad, scriptExists, evalRo', async () => {
      expect(await sdk.eval('return ARGV[1]', [], ['hello'])).toBe('hello');
      expect(await sdk.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", ['ctr'], [5])).toBe(5);
      const sha = await sdk.scriptLoad("return redis.call('GET', KEYS[1])");
      expect(await sdk.scriptExists(sha)).toEqual([1]);
      expect(await sdk.evalsha(sha, ['ctr'], [])).toBe(5);
      expect(await sdk.evalRo("return redis.call('GET', KEYS[1])", ['ctr'], [])).toBe(5);
      const script = sdk.createScript<string>("return 'from script'");
      expect(await script.exec([], [])).toBe('from script');
    });

    it('scripts written for Upstash: the allow-key-locking flag, by EVAL, SCRIPT LOAD and EVALSHA', async () => {
      const source = "#!lua flags=allow-key-locking,no-writes\nreturn redis.call('GET', KEYS[1])";
      await sdk.set('flagged', 'v');
      expect(await sdk.eval(source, ['flagged'], [])).toBe('v');
      expect(await sdk.evalRo(source, ['flagged'], [])).toBe('v');
      // The digest the client computed, of the text it sent, is the one that works.
      const sha = await sdk.scriptLoad(source);
      expect(sha).toBe(createHash('sha1').update(source).digest('hex'));
      expect(await sdk.scriptExists(sha)).toEqual([1]);
      expect(await sdk.evalsha(sha, ['flagged'], [])).toBe('v');
      expect(await sdk.evalshaRo(sha, ['flagged'], [])).toBe('v');
      // no-writes is kept: the script still may not write.
      const writer = '#!lua flags=no-writes,allow-key-locking\nreturn redis.call("SET", KEYS[1], "x")';
      await expect(sdk.eval(writer, ['flagged'], [])).rejects.toThrow(/Write commands are not allowed/);
      // The SDK's scripts (EVALSHA first, EVAL on NOSCRIPT), inside auto-pipelined batches.
      const script = sdk.createScript<string>(`#!lua flags=allow-key-locking\nreturn 'flagged ' .. ARGV[1]`);
      const results = await Promise.all([script.exec([], ['a']), script.exec([], ['b']), sdk.get('flagged')]);
      expect(results).toEqual(['flagged a', 'flagged b', 'v']);
    });

    it("holds scripts to the token's scope: a write token's script cannot flush or list keys", async () => {
      await sdk.set('kept', 'yes');
      for (const call of ["redis.call('FLUSHALL')", "redis.call('KEYS', '*')"]) {
        await expect(sdk.eval(`return ${call}`, [], [])).rejects.toThrow(/can't run this command/);
      }
      expect(await sdk.get('kept')).toBe('yes');
    });

    it('explicit pipelines keep going past a failing command in the middle', async () => {
      await sdk.set('str', 'v');
      const results = await sdk
        .pipeline()
        .set('p1', 1)
        .lpush('str', 'x')
        .incr('p1')
        .exec({ keepErrors: true });
      expect(results[0]).toEqual({ result: 'OK', error: undefined });
      expect(results[1]?.error).toMatch(/WRONGTYPE/);
      expect(results[2]).toEqual({ result: 2, error: undefined });
      await expect(sdk.pipeline().set('p2', 1).lpush('str', 'x').exec()).rejects.toThrow(/WRONGTYPE/);
      expect(await sdk.get('p2')).toBe(1);
    });

    it('auto-pipelining batches concurrent calls and routes each result back', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sdk.set(`auto:${i}`, i)));
      expect(results.every((r) => r === 'OK')).toBe(true);
      const values = await Promise.all(Array.from({ length: 50 }, (_, i) => sdk.get(`auto:${i}`)));
      expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i));
    });

    it('multi-exec runs atomically', async () => {
      const tx = sdk.multi();
      tx.set('m', 1);
      tx.incr('m');
      tx.get('m');
      expect(await tx.exec()).toEqual(['OK', 2, 2]);
    });

    it('100 concurrent transactions from many clients all succeed', async () => {
      const clients = Array.from(
        { length: 10 },
        () => new Redis({ url: gateway.url, token: TOKENS.write, enableTelemetry: false, retry: false }),
      );
      const runs = Array.from({ length: 100 }, (_, i) => {
        const tx = (clients[i % clients.length] as Redis).multi();
        tx.incr('{tx}counter');
        tx.rpush('{tx}log', `a${i}`, `b${i}`);
        return tx.exec();
      });
      const results = await Promise.all(runs);
      expect(results).toHaveLength(100);
      // Ten other clients wrote: their tokens are not this client's.
      await target?.catchUp?.();
      expect(await sdk.get('{tx}counter')).toBe(100);
      const log = await sdk.lrange('{tx}log', 0, -1);
      for (let i = 0; i < log.length; i += 2) expect(log[i + 1]).toBe(`b${(log[i] as string).slice(1)}`);
    });

    it('unicode, emoji and binary-ish strings round-trip', async () => {
      const samples = [
        'héllo wörld',
        '🚀🔥👩‍👩‍👧',
        '日本語テキスト',
        'مرحبا',
        'tab\tnew\nline',
        '\u0000nul',
        'quote " inside',
      ];
      for (const [i, sample] of samples.entries()) {
        await sdk.set(`u${i}`, sample);
        expect(await sdk.get(`u${i}`)).toBe(sample);
      }
      await sdk.hset('uh', { '🔑': '🗝️' });
      expect(await sdk.hget('uh', '🔑')).toBe('🗝️');
    });

    it('reads the bytes other clients wrote, exactly', async () => {
      await target?.rawSet('raw', 'plain text, not JSON');
      expect(await sdk.get('raw')).toBe('plain text, not JSON');
    });

    it('streams and geo commands', async () => {
      const id = await sdk.xadd('stream', '*', { field: 'value' });
      expect(id).toMatch(/^\d+-\d+$/);
      expect(await sdk.xlen('stream')).toBe(1);
      const range = await sdk.xrange('stream', '-', '+');
      expect(Object.values(range)).toEqual([{ field: 'value' }]);
      expect(
        await sdk.geoadd(
          'geo',
          { longitude: 13.361389, latitude: 38.115556, member: 'Palermo' },
          { longitude: 15.087269, latitude: 37.502669, member: 'Catania' },
        ),
      ).toBe(2);
      expect(await sdk.geodist('geo', 'Palermo', 'Catania', 'KM')).toBeCloseTo(166.27, 1);
    });

    it('the read-your-writes sync token changes after writes', async () => {
      const client = new Redis({
        url: gateway.url,
        token: TOKENS.write,
        enableTelemetry: false,
        enableAutoPipelining: false,
      });
      await client.get('x');
      const before = client.readYourWritesSyncToken;
      expect(before).toBeTruthy();
      await client.set('x', 1);
      const after = client.readYourWritesSyncToken;
      expect(after).not.toBe(before);
      await client.get('x');
      expect(client.readYourWritesSyncToken).toBe(after);
    });

    it('a read-only token reads and gets a clear error when it writes', async () => {
      await sdk.set('ro', 'v');
      const reader = new Redis({
        url: gateway.url,
        token: TOKENS.read,
        enableTelemetry: false,
        retry: false,
      });
      expect(await reader.get('ro')).toBe('v');
      await expect(reader.set('ro', 'w')).rejects.toThrow(/SET writes: this token has scope "read"/);
    });

    it('an admin token can run keys, flushdb and flushall', async () => {
      const admin = new Redis({
        url: gateway.url,
        token: TOKENS.admin,
        enableTelemetry: false,
        retry: false,
      });
      await admin.set('a1', 1);
      expect(await admin.keys('a*')).toEqual(['a1']);
      expect(await admin.flushdb()).toBe('OK');
      expect(await admin.dbsize()).toBe(0);
      expect(await admin.flushall()).toBe('OK');
    });

    it('commands the connected Redis does not have fail with its own error', async () => {
      await expect(sdk.json.set('j', '$', { a: 1 })).rejects.toThrow(/unknown command/i);
    });

    it('subscribe and psubscribe stream published messages as server-sent events', async () => {
      const subscriber = sdk.subscribe<{ n: number }>(['news']);
      const patterned = sdk.psubscribe<{ point: string }>(['sport.*']);
      const messages: unknown[] = [];
      const counts: number[] = [];
      subscriber.on('subscribe', (count) => counts.push(count));
      patterned.on('psubscribe', (count) => counts.push(count));
      subscriber.on('message', (data) => messages.push(data));
      patterned.on('pmessage', (data) => messages.push(data));
      try {
        await waitFor(() => counts.length === 2, 5_000, 'never subscribed');
        // PUBLISH counts the subscribers of the node it ran on; in a cluster that may not be the gateway's.
        await sdk.publish('news', { n: 1 });
        // The SDK parses pattern messages as JSON, on Upstash too.
        await sdk.publish('sport.tennis', { point: 'match' });
        await waitFor(() => messages.length === 2, 5_000, `got ${JSON.stringify(messages)}`);
        expect(messages).toEqual(
          expect.arrayContaining([
            { channel: 'news', message: { n: 1 } },
            { pattern: 'sport.*', channel: 'sport.tennis', message: { point: 'match' } },
          ]),
        );
      } finally {
        await subscriber.unsubscribe();
        await patterned.unsubscribe();
      }
    });

    it('a wrong token is rejected', async () => {
      const wrong = new Redis({
        url: gateway.url,
        token: 'wrong-token-0000000000',
        enableTelemetry: false,
        retry: false,
      });
      await expect(wrong.get('x')).rejects.toThrow(/Invalid token/);
    });
  });
}
