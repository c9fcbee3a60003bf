import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { startGateway, type TestGateway, TOKENS, waitFor } from '../helpers/gateway.js';
import type { TestRedis } from '../helpers/redis.js';
import { withRedisAndGateway } from '../helpers/setup.js';

// Issue 11, class 2: replies no JSON encoder should walk, and replies no parser can read.
let redis: TestRedis;
let gateway: TestGateway;
withRedisAndGateway((started) => ({ redis, gateway } = started), {}, { flushEach: false });
beforeEach(async () => {
  await redis.command('FLUSHALL');
  await redis.command('SET', 'canary', 'still here');
});

const run = (path: string, body: unknown, token: string = TOKENS.read) =>
  gateway.request(path, { method: 'POST', body: JSON.stringify(body), token });

/** A script returning a table nested `depth` levels deep. */
const nested = (depth: number) => [
  'EVAL_RO',
  `local t={} local c=t for i=1,${depth - 1} do local n={} c[1]=n c=n end return t`,
  '0',
];

describe('deeply nested replies', () => {
  it.each([600, 3000, 5400, 10_000])(
    'answers %i levels with a clear 400 and keeps serving',
    async (depth) => {
      const response = await run('/', nested(depth));
      expect(response.status).toBe(400);
      expect((await response.json()).error).toContain('nested more than 512 levels');
      expect(await (await run('/', ['GET', 'canary'])).json()).toEqual({ result: 'still here' });
      expect((await gateway.request('/readyz')).status).toBe(200);
    },
  );

  it('encodes replies within CACHEGATE_MAX_JSON_DEPTH as they are', async () => {
    const response = await run('/', nested(500));
    let value = (await response.json()).result;
    let depth = 0;
    while (Array.isArray(value)) {
      depth++;
      value = value[0];
    }
    expect(depth).toBe(500);
  });

  it('fails only its own item in a pipeline', async () => {
    const response = await run('/pipeline', [['GET', 'canary'], nested(10_000), ['GET', 'canary']]);
    expect(await response.json()).toEqual([
      { result: 'still here' },
      { error: expect.stringContaining('nested more than') },
      { result: 'still here' },
    ]);
  });
});

describe('replies over CACHEGATE_MAX_REPLY_BYTES', () => {
  let capped: TestGateway;
  beforeAll(async () => {
    capped = await startGateway(redis.url, { CACHEGATE_MAX_REPLY_BYTES: String(4 * 1024 * 1024) });
  });
  afterAll(() => capped?.close());
  const post = (path: string, body: unknown) =>
    capped.request(path, { method: 'POST', body: JSON.stringify(body), token: TOKENS.read });

  it('a read token cannot have the gateway hold a huge reply: a clear 400, its own item in a pipeline', async () => {
    await redis.command('SET', 'mb', 'v'.repeat(1024 * 1024));
    const many = ['MGET', ...Array(40).fill('mb')];
    const response = await post('/', many);
    expect(response.status).toBe(400);
    expect(response.headers.get('cachegate-error-code')).toBe('CG_ERR_REPLY_TOO_LARGE');
    // It ran (a read, here): the answer does not tell the client it may safely resend.
    expect(response.headers.get('cachegate-executed')).toBeNull();
    expect((await response.json()).error).toContain('CACHEGATE_MAX_REPLY_BYTES');
    const items = await (await post('/pipeline', [['GET', 'canary'], many, ['GET', 'mb']])).json();
    expect(items[0]).toEqual({ result: 'still here' });
    expect(items[1].error).toContain('CACHEGATE_MAX_REPLY_BYTES');
    expect(items[2].result).toHaveLength(1024 * 1024);
    // The connection stayed in step: the next replies belong to their commands.
    expect(await (await post('/', ['GET', 'canary'])).json()).toEqual({ result: 'still here' });
  });

  it('passes replies within it, such as a 1 MB value read three times', async () => {
    await redis.command('SET', 'mb', 'v'.repeat(1024 * 1024));
    const values = (await (await post('/', ['MGET', 'mb', 'mb', 'mb'])).json()).result;
    expect(values.map((value: string) => value.length)).toEqual([1024 * 1024, 1024 * 1024, 1024 * 1024]);
  });
});

describe('batches that expect no reply', () => {
  // Found by the fuzzer: an empty batch queued on a connection took the next batch's reply, shifting every
  // later answer by one.
  it('answers an empty pipeline or transaction at once, and every later reply stays with its command', async () => {
    for (const path of ['/pipeline', '/multi-exec']) {
      const empty = await run(path, [], TOKENS.write);
      expect(await empty.json()).toEqual([]);
    }
    const [a, empty, b] = await Promise.all([
      run('/', ['ECHO', 'a']),
      run('/pipeline', []),
      run('/', ['ECHO', 'b']),
    ]);
    expect(await a.json()).toEqual({ result: 'a' });
    expect(await empty.json()).toEqual([]);
    expect(await b.json()).toEqual({ result: 'b' });
    expect(await (await run('/', ['GET', 'canary'])).json()).toEqual({ result: 'still here' });
  });
});

describe('a reply the parser cannot read', () => {
  let proxy: FaultProxy;
  let proxied: TestGateway;
  beforeAll(async () => {
    proxy = await startFaultProxy(redis.port);
    proxied = await startGateway(`redis://127.0.0.1:${proxy.port}`);
  });
  afterAll(async () => {
    await proxied?.close();
    await proxy?.close();
  });

  it('replaces the connection at once: the request gets a 503, and the next ones are served', async () => {
    // Warm the write scope's connection first, so that the broken reply is a command's, not the log-in's.
    expect((await proxied.request('/', { method: 'POST', body: '["GET","canary"]' })).status).toBe(200);
    proxy.corruptNextReply();
    const broken = await proxied.request('/', { method: 'POST', body: '["GET","canary"]' });
    expect(broken.status).toBe(503);
    // The command was written: it may have run, so the client must not re-send it blindly.
    expect(broken.headers.get('cachegate-executed')).toBeNull();
    const started = Date.now();
    await waitFor(
      async () => (await proxied.request('/', { method: 'POST', body: '["GET","canary"]' })).status === 200,
      5000,
      'the connection was never replaced',
    );
    expect(Date.now() - started).toBeLessThan(1000);
    const again = await proxied.request('/', { method: 'POST', body: '["GET","canary"]' });
    expect(await again.json()).toEqual({ result: 'still here' });
  });
});
