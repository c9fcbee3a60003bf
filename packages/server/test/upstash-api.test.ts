import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway, TOKENS, waitFor } from './helpers/gateway.js';
import { startTestRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
let gateway: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gateway = await startGateway(redis.url, { CACHEGATE_MAX_PIPELINE: '5', CACHEGATE_MAX_BODY_BYTES: '4096' });
});
afterAll(async () => {
  await gateway?.close();
  await redis?.stop();
});
beforeEach(async () => {
  await redis.command('FLUSHALL');
});

const post = (
  path: string,
  body: unknown,
  init: { token?: string | null; headers?: Record<string, string> } = {},
) =>
  gateway.request(path, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
const base64 = { 'upstash-encoding': 'base64' };
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('POST / (JSON command)', () => {
  it('runs a command with string, number and boolean arguments and mixed-case names', async () => {
    expect(await (await post('/', ['sEt', 'k', 42, 'EX', 100])).json()).toEqual({ result: 'OK' });
    expect(await redis.command('GET', 'k')).toBe('42');
    expect(await (await post('/', ['set', 'flag', true])).json()).toEqual({ result: 'OK' });
    expect(await redis.command('GET', 'flag')).toBe('true');
    expect(await (await post('/', ['Get', 'k'])).json()).toEqual({ result: '42' });
  });

  it('always includes the result key, null for missing values', async () => {
    const body = await (await post('/', ['GET', 'missing'])).text();
    expect(body).toBe('{"result":null}');
  });

  it('returns RESP2 shapes: integers, arrays, nested arrays, floats as strings', async () => {
    await post('/', ['HSET', 'h', 'a', '1', 'b', '2']);
    expect(await (await post('/', ['HGETALL', 'h'])).json()).toEqual({ result: ['a', '1', 'b', '2'] });
    await post('/', ['ZADD', 'z', '1.5', 'm']);
    expect(await (await post('/', ['ZSCORE', 'z', 'm'])).json()).toEqual({ result: '1.5' });
    expect(await (await post('/', ['INCRBYFLOAT', 'f', '0.1'])).json()).toEqual({ result: '0.1' });
    expect(
      await (await post('/', ['EVAL', 'return {1, {2, "x"}, redis.status_reply("FINE")}', 0])).json(),
    ).toEqual({
      result: [1, [2, 'x'], 'FINE'],
    });
    expect(await (await post('/', ['EXISTS', 'h', 'z', 'none'])).json()).toEqual({ result: 2 });
  });

  it("answers a Redis error with 400 and Redis's own text", async () => {
    await post('/', ['SET', 'k', 'v']);
    const wrongType = await post('/', ['LPUSH', 'k', 'x']);
    expect(wrongType.status).toBe(400);
    expect(wrongType.headers.get('cachegate-executed')).toBeNull();
    expect(await wrongType.json()).toEqual({ error: expect.stringMatching(/^WRONGTYPE/) });
    const unknown = await post('/', ['NOSUCHCOMMAND', 'x']);
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error).toMatch(/^ERR unknown command/);
  });

  it.each([
    ['malformed JSON', '["GET", '],
    ['an empty body', ''],
    ['an object', { cmd: 'GET' }],
    ['an empty array', []],
    ['a null argument', ['SET', 'k', null]],
    ['an object argument', ['SET', 'k', { a: 1 }]],
    ['a nested array', ['SET', 'k', ['v']]],
  ])('rejects %s with 400 and keeps serving', async (_label, body) => {
    const response = await post('/', body);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: expect.any(String) });
    expect(await redis.command('DBSIZE')).toBe(0);
    expect((await post('/', ['PING'])).status).toBe(200);
  });

  it('accepts any Content-Type and ignores telemetry and sync-token headers', async () => {
    const response = await post('/', ['SET', 'k', 'v'], {
      headers: {
        'content-type': 'text/plain',
        'Upstash-Telemetry-Sdk': 'x',
        'Upstash-Telemetry-Runtime': 'y',
        'upstash-sync-token': 'stale-or-garbage',
      },
    });
    expect(response.status).toBe(200);
  });
});

describe('path form', () => {
  it('runs GET /cmd/arg/... with URL-decoded segments', async () => {
    await redis.command('SET', 'a/b c', 'v');
    expect(await (await gateway.request('/get/a%2Fb%20c')).json()).toEqual({ result: 'v' });
    expect(await (await gateway.request('/incrby/n/5')).json()).toEqual({ result: 5 });
  });

  it('appends query parameters as NAME value pairs', async () => {
    expect(await (await gateway.request('/set/k/v?EX=100')).json()).toEqual({ result: 'OK' });
    expect(Number(await redis.command('TTL', 'k'))).toBeGreaterThan(90);
    expect(await (await gateway.request('/set/k/w?NX')).json()).toEqual({ result: null });
  });

  it('takes a non-empty POST body as the last argument, byte for byte', async () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]);
    const response = await gateway.request('/set/bin', { method: 'POST', body: bytes });
    expect(await response.json()).toEqual({ result: 'OK' });
    const read = await gateway.request('/get/bin', { headers: base64 });
    expect(Buffer.from((await read.json()).result, 'base64')).toEqual(bytes);
  });

  it('rejects malformed percent-encoding with 400', async () => {
    const response = await gateway.request('/get/%E0%A4%A');
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: expect.any(String) });
  });

  it('accepts the token as ?_token= and does not pass it to Redis', async () => {
    const response = await gateway.request(`/set/k/v?_token=${TOKENS.write}&EX=60`, { token: null });
    expect(await response.json()).toEqual({ result: 'OK' });
    expect(Number(await redis.command('TTL', 'k'))).toBeGreaterThan(50);
  });

  it('answers 405 for other methods', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      const response = await gateway.request('/get/k', { method });
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, POST');
      expect(await response.json()).toEqual({ error: expect.any(String) });
    }
    expect((await gateway.request('/')).status).toBe(405);
    expect((await gateway.request('/pipeline')).status).toBe(405);
    expect((await gateway.request('/multi-exec', { method: 'PUT' })).status).toBe(405);
  });
});

describe('base64 encoding', () => {
  it('encodes every string at every depth, status replies included; integers and null stay raw', async () => {
    expect(await (await post('/', ['SET', 'k', 'v'], { headers: base64 })).json()).toEqual({
      result: b64('OK'),
    });
    expect(await (await post('/', ['GET', 'nope'], { headers: base64 })).json()).toEqual({ result: null });
    expect(await (await post('/', ['INCR', 'n'], { headers: base64 })).json()).toEqual({ result: 1 });
    expect(
      await (
        await post('/', ['EVAL', 'return {1, {"a", redis.status_reply("PONG")}}', 0], { headers: base64 })
      ).json(),
    ).toEqual({ result: [1, [b64('a'), b64('PONG')]] });
  });

  it('round-trips unicode and emoji in both modes', async () => {
    const text = 'héllo 🌍 مرحبا 你好';
    await post('/', ['SET', 'u', text]);
    expect(await (await post('/', ['GET', 'u'])).json()).toEqual({ result: text });
    expect(await (await post('/', ['GET', 'u'], { headers: base64 })).json()).toEqual({ result: b64(text) });
  });

  it('keeps errors raw', async () => {
    await post('/', ['SET', 'k', 'v']);
    const response = await post('/', ['LPUSH', 'k', 'x'], { headers: base64 });
    expect((await response.json()).error).toMatch(/^WRONGTYPE/);
  });
});

describe('/pipeline', () => {
  it('returns one result or error per command, in order, and a failure never stops the rest', async () => {
    const response = await post('/pipeline', [
      ['SET', 'k', 'v'],
      ['INCR', 'k'],
      ['GET', 'k'],
      ['NOPE'],
      ['DBSIZE'],
    ]);
    expect(response.status).toBe(200);
    const items = await response.json();
    expect(items).toEqual([
      { result: 'OK' },
      { error: 'ERR value is not an integer or out of range' },
      { result: 'v' },
      { error: expect.stringMatching(/^ERR unknown command/) },
      { result: 1 },
    ]);
    for (const item of items) expect(Object.keys(item)).toHaveLength(1);
  });

  it('answers 413 past CACHEGATE_MAX_PIPELINE and runs nothing', async () => {
    const response = await post(
      '/pipeline',
      Array.from({ length: 6 }, (_, i) => ['SET', `k${i}`, 'v']),
    );
    expect(response.status).toBe(413);
    expect((await response.json()).error).toContain('CACHEGATE_MAX_PIPELINE');
    expect(await redis.command('DBSIZE')).toBe(0);
  });

  it('answers 413 for a body over CACHEGATE_MAX_BODY_BYTES', async () => {
    const response = await post('/pipeline', [['SET', 'k', 'x'.repeat(5000)]]);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: expect.stringContaining('CACHEGATE_MAX_BODY_BYTES') });
  });

  it.each([
    ['not an array', { a: 1 }],
    ['a command that is not an array', [['GET', 'k'], 'GET k']],
    ['an empty command', [['GET', 'k'], []]],
  ])('rejects a body that is %s with 400 and runs nothing', async (_label, body) => {
    const response = await post('/pipeline', body);
    expect(response.status).toBe(400);
    expect(await redis.command('DBSIZE')).toBe(0);
  });
});

describe('/multi-exec', () => {
  it('runs commands atomically and reports per-command runtime errors', async () => {
    const response = await post('/multi-exec', [
      ['SET', 'k', 'v'],
      ['INCR', 'k'],
      ['GET', 'k'],
    ]);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([
      { result: 'OK' },
      { error: 'ERR value is not an integer or out of range' },
      { result: 'v' },
    ]);
  });

  it('answers 400 when Redis discards the transaction, and applies nothing', async () => {
    const response = await post('/multi-exec', [['SET', 'k', 'v'], ['GET']]);
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatch(/^EXECABORT/);
    expect(await redis.command('EXISTS', 'k')).toBe(0);
  });

  it('keeps 100 concurrent transactions isolated: no nesting errors, no interleaving', async () => {
    const transactions = Array.from({ length: 100 }, (_, i) =>
      post('/multi-exec', [
        ['INCR', 'counter'],
        ['RPUSH', 'log', `start-${i}`],
        ['RPUSH', 'log', `end-${i}`],
        ['GET', 'counter'],
      ]),
    );
    const responses = await Promise.all(transactions);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    const bodies = await Promise.all(responses.map((r) => r.json()));
    for (const body of bodies) for (const item of body) expect(item).not.toHaveProperty('error');
    const log = (await redis.command('LRANGE', 'log', '0', '-1')) as string[];
    expect(log).toHaveLength(200);
    for (let i = 0; i < log.length; i += 2) {
      expect(log[i + 1]).toBe((log[i] as string).replace('start', 'end'));
    }
    expect(await redis.command('GET', 'counter')).toBe('100');
    expect(new Set(bodies.map((b) => b[3].result)).size).toBe(100);
  });
});

describe('read-your-writes sync token', () => {
  it('changes after every write (single, pipeline, script) and not after reads', async () => {
    const token = async (path: string, body: unknown) =>
      (await post(path, body, { headers: { 'upstash-sync-token': '' } })).headers.get('upstash-sync-token');
    const t0 = await token('/', ['GET', 'k']);
    expect(t0).toBeTruthy();
    expect(await token('/', ['GET', 'k'])).toBe(t0);
    const t1 = await token('/', ['SET', 'k', 'v']);
    expect(t1).not.toBe(t0);
    const t2 = await token('/pipeline', [
      ['GET', 'k'],
      ['DEL', 'k'],
    ]);
    expect(t2).not.toBe(t1);
    const t3 = await token('/', ['EVAL', "return redis.call('SET', KEYS[1], 'x')", 1, 'k']);
    expect(t3).not.toBe(t2);
    const t4 = await token('/multi-exec', [['SET', 'a', '1']]);
    expect(t4).not.toBe(t3);
    expect(await token('/pipeline', [['GET', 'a']])).toBe(t4);
  });
});

describe('/subscribe and /psubscribe (server-sent events)', () => {
  /** Reads server-sent events from a streaming response until `count` data events arrived. */
  async function readEvents(response: Response, count: number): Promise<string[]> {
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const events = () => text.split('\n\n').filter((block) => block.startsWith('data: '));
    while (events().length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel();
    return events();
  }

  it('streams messages, keeping multi-line messages in one event', async () => {
    const controller = new AbortController();
    const response = await gateway.request('/subscribe/alerts', {
      method: 'POST',
      body: '[]',
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const events = readEvents(response as unknown as Response, 3);
    await new Promise((done) => setTimeout(done, 50));
    await post('/', ['PUBLISH', 'alerts', 'first']);
    await post('/', ['PUBLISH', 'alerts', 'line one\nline two']);
    expect(await events).toEqual([
      'data: subscribe,alerts,1',
      'data: message,alerts,first',
      'data: message,alerts,line one\ndata: line two',
    ]);
    controller.abort();
    // An aborted stream no longer counts as a request in flight.
    await waitFor(() => gateway.app.inFlight() === 0, 2_000, 'the aborted stream still counts as in flight');
  });

  it('any scope may listen, the read token included', async () => {
    const controller = new AbortController();
    const response = await gateway.request('/subscribe/alerts', {
      method: 'POST',
      body: '[]',
      token: TOKENS.read,
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const events = readEvents(response as unknown as Response, 2);
    await new Promise((done) => setTimeout(done, 50));
    await post('/', ['PUBLISH', 'alerts', 'for readers']);
    expect(await events).toEqual(['data: subscribe,alerts,1', 'data: message,alerts,for readers']);
    controller.abort();
  });

  it('needs a token and a channel', async () => {
    expect((await gateway.request('/subscribe/alerts', { token: null })).status).toBe(401);
    const none = await gateway.request('/subscribe/', { method: 'POST', body: '[]' });
    expect(none.status).toBe(400);
  });

  it('points SUBSCRIBE sent as a command to the stream', async () => {
    const response = await post('/', ['SUBSCRIBE', 'alerts']);
    expect(response.status).toBe(403);
    expect((await response.json()).error).toContain('/subscribe/<channel>');
  });
});

describe('Cachegate-Error-Code', () => {
  it('names the catalog code of every error answer, where the Upstash body has no room for it', async () => {
    const codeOf = async (response: Response) => {
      await response.body?.cancel();
      return [response.status, response.headers.get('cachegate-error-code')];
    };
    await redis.command('LPUSH', 'list', 'a');
    expect(await codeOf(await post('/', ['GET', 'k'], { token: null }))).toEqual([
      401,
      'CG_ERR_AUTH_MISSING',
    ]);
    expect(await codeOf(await post('/', ['GET', 'k'], { token: 'unknown-token-0123456789' }))).toEqual([
      401,
      'CG_ERR_AUTH_INVALID',
    ]);
    expect(await codeOf(await post('/', ['SET', 'k', 'v'], { token: TOKENS.read }))).toEqual([
      403,
      'CG_ERR_COMMAND_DENIED',
    ]);
    expect(await codeOf(await post('/', ['GET', 'list']))).toEqual([400, 'CG_ERR_REDIS_ERROR']);
    expect(await codeOf(await post('/pipeline', Array(6).fill(['GET', 'k'])))).toEqual([
      413,
      'CG_ERR_PIPELINE_TOO_LARGE',
    ]);
    expect(await codeOf(await post('/', ['SET', 'k', 'x'.repeat(5000)]))).toEqual([
      413,
      'CG_ERR_BODY_TOO_LARGE',
    ]);
    expect(await codeOf(await post('/multi-exec', [['SET', 'k']]))).toEqual([
      400,
      'CG_ERR_TRANSACTION_ABORTED',
    ]);
  });

  it('is absent from answers that succeed', async () => {
    const response = await post('/', ['SET', 'k', 'v']);
    expect(response.status).toBe(200);
    expect(response.headers.get('cachegate-error-code')).toBeNull();
  });
});
