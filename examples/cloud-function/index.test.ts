import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { delay, type Stack, startStack, TOKENS } from '../../packages/client/test/helpers/stack.js';
import { type FunctionRequest, type FunctionResponse, product, shutdown } from './index.js';

/** Calls the handler the way the Functions Framework would, and captures what it answered. */
async function invoke(req: FunctionRequest): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = { status: 0, body: {} as Record<string, unknown> };
  const res: FunctionResponse = {
    status(code) {
      answer.status = code;
      return res;
    },
    set: () => res,
    json(body) {
      answer.body = body as Record<string, unknown>;
      return res;
    },
  };
  await product(req, res);
  return answer;
}

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  // Configured exactly as the seed's functions were.
  process.env.REDIS_SERVICE_URL = stack.gateway.url;
  process.env.REDIS_SERVICE_API_KEY = TOKENS.write;
  process.env.REDIS_URL = stack.redis.url;
  // The function logs its fallback and recovery; keep the test output quiet.
  vi.spyOn(console, 'warn').mockImplementation(() => {});
  vi.spyOn(console, 'info').mockImplementation(() => {});
});
afterAll(async () => {
  await shutdown();
  await stack?.stop().catch(() => {});
});

describe('cloud function example against a real gateway', () => {
  it('answers a product through the gateway, caches it and counts views', async () => {
    const first = await invoke({ method: 'GET', query: { id: '42' } });
    expect(first).toEqual({
      status: 200,
      body: { product: { id: '42', name: 'Product 42', price: 9.99 }, views: 1, servedVia: 'http' },
    });
    expect(JSON.parse(String(await stack.redis.command('GET', 'product:42')))).toMatchObject({ id: '42' });
    const second = await invoke({ method: 'GET', query: { id: '42' } });
    expect(second.body.views).toBe(2);
  });

  it('answers 404, 400 and 405 for what it cannot serve', async () => {
    expect((await invoke({ method: 'GET', query: { id: 'missing' } })).status).toBe(404);
    expect((await invoke({ method: 'GET', query: {} })).status).toBe(400);
    expect((await invoke({ method: 'POST', query: { id: '1' } })).status).toBe(405);
  });

  it('keeps serving from Redis directly when the gateway goes away', async () => {
    await stack.gateway.close();
    // Let the client see the gateway close its idle keep-alive connections. A request racing that close
    // cannot know whether it was read, so its INCR would rightly end as CG_ERR_OUTCOME_UNKNOWN (views null).
    await delay(100);
    const answer = await invoke({ method: 'GET', query: { id: '42' } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ product: { id: '42' }, views: 3, servedVia: 'redis' });
  });
});
