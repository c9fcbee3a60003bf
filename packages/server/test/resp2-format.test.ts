import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand, ReplyParser } from '../src/redis/resp.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
let gateway: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startGateway(redis.url);
  // Values of every reply type, a binary one (NUL, CR LF, bytes that are not UTF-8) included.
  const binary = Buffer.from([0x00, 0xff, 0x80, 0x0d, 0x0a, 0x41]);
  expect((await gateway.request('/set/bin', { method: 'POST', body: binary })).status).toBe(200);
  for (const command of [
    ['SET', 's', 'héllo'],
    ['RPUSH', 'l', 'a', 'b', 'c'],
    ['HSET', 'h', 'f', 'v'],
    ['ZADD', 'z', '1.5', 'm'],
    ['GEOADD', 'g', '13.361389', '38.115556', 'Palermo'],
    ['SET', 'big', '9223372036854775806'],
  ]) {
    await redis.command(...command);
  }
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});

/** What Redis itself writes on a raw socket for these commands: the bytes of their replies, back to back. */
function rawReplies(commands: string[][]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(redis.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let replies = 0;
    const parser = new ReplyParser(
      () => {
        if (++replies === commands.length) {
          socket.destroy();
          resolve(Buffer.concat(chunks));
        }
      },
      1000,
      () => ({ form: 'resp2', reservation: undefined, isWanted: true }),
    );
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      parser.feed(chunk);
    });
    socket.on('error', reject);
    for (const command of commands) socket.write(encodeCommand(command));
  });
}

const resp2 = { 'upstash-response-format': 'resp2' };
const post = (path: string, body: unknown, headers: Record<string, string> = resp2) =>
  gateway.request(path, { method: 'POST', body: JSON.stringify(body), headers });

// Strings (status, bulk, binary, nil), integers (past 2^53 too), errors, arrays (nested, with nils, empty),
// and a nil array (*-1, which GEOPOS and XREAD answer).
const COMMANDS = [
  ['PING'],
  ['GET', 's'],
  ['GET', 'bin'],
  ['GET', 'missing'],
  ['STRLEN', 's'],
  ['INCRBY', 'big', '0'],
  ['INCR', 's'],
  ['LRANGE', 'l', '0', '-1'],
  ['LRANGE', 'missing', '0', '-1'],
  ['MGET', 's', 'missing', 'bin'],
  ['HGETALL', 'h'],
  ['ZRANGE', 'z', '0', '-1', 'WITHSCORES'],
  ['GEOPOS', 'g', 'Palermo', 'nobody'],
  ['XREAD', 'STREAMS', 'nostream', '0'],
  ['EVAL', "return {1, 'two', {3, {}}, redis.error_reply('MY error')}", '0'],
];

describe('Upstash-Response-Format: resp2', () => {
  it('answers each command with the bytes Redis itself sends, as application/octet-stream', async () => {
    for (const command of COMMANDS) {
      const response = await post('/', command);
      const body = Buffer.from(await response.arrayBuffer());
      expect(body, command.join(' ')).toEqual(await rawReplies([command]));
      expect(response.headers.get('content-type')).toBe('application/octet-stream');
      // Redis's error replies keep the status code the JSON form gives them.
      expect(response.status, command.join(' ')).toBe(body[0] === 0x2d ? 400 : 200);
    }
  });

  it('answers /pipeline with every reply back to back, as a Redis client reads a pipeline', async () => {
    const response = await post('/pipeline', COMMANDS);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(await rawReplies(COMMANDS));
  });

  it('answers the path form, a binary value included', async () => {
    const response = await gateway.request('/get/bin', { headers: resp2 });
    expect(Buffer.from(await response.arrayBuffer())).toEqual(await rawReplies([['GET', 'bin']]));
  });

  it('keeps the gateway-made parts in step: SCRIPT LOAD answers the digest the client computed', async () => {
    const script = '#!lua flags=allow-key-locking\nreturn 1';
    const response = await post('/', ['SCRIPT', 'LOAD', script]);
    const digest = createHash('sha1').update(script).digest('hex');
    expect(Buffer.from(await response.arrayBuffer()).toString()).toBe(`$40\r\n${digest}\r\n`);
  });

  it('/multi-exec answers JSON, as on Upstash', async () => {
    const response = await post('/multi-exec', [
      ['GET', 's'],
      ['STRLEN', 's'],
    ]);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual([{ result: 'héllo' }, { result: 6 }]);
  });

  it('takes only json and resp2, and not resp2 with base64', async () => {
    expect(await (await post('/', ['GET', 's'], { 'upstash-response-format': 'json' })).json()).toEqual({
      result: 'héllo',
    });
    for (const headers of <Record<string, string>[]>[
      { 'upstash-response-format': 'xml' },
      { 'upstash-response-format': 'resp3' },
      { 'upstash-response-format': 'resp2', 'upstash-encoding': 'base64' },
    ]) {
      for (const path of ['/', '/pipeline', '/multi-exec']) {
        const response = await post(path, path === '/' ? ['GET', 's'] : [['GET', 's']], headers);
        expect(response.status, `${path} ${JSON.stringify(headers)}`).toBe(400);
        expect((await response.json()).error).toMatch(/Upstash-Response-Format/);
      }
    }
  });
});
