import { afterAll, beforeAll, beforeEach } from 'vitest';
import { freePort } from '../../../server/src/redis/embedded.js';
import { startGateway, type TestGateway, TOKENS } from '../../../server/test/helpers/gateway.js';
import { startTestRedis, type TestRedis } from '../../../server/test/helpers/redis.js';
import { type ProxyAction, startProxy, type TestProxy } from './proxy.js';

export { TOKENS };

/** A real redis-server and an in-process gateway in front of it, for one test file. */
export interface Stack {
  redis: TestRedis;
  gateway: TestGateway;
  /** Empties Redis between tests. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Redis, then a gateway on port 0 connected to it. */
export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const redis = await startTestRedis();
  const gateway = await startGateway(redis.url, env);
  return {
    redis,
    gateway,
    flush: async () => {
      await redis.command('FLUSHALL');
    },
    stop: async () => {
      await gateway.close();
      await redis.stop();
    },
  };
}

/** A URL on which nothing listens: connecting is refused at once. */
export async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

/** Resolves after `ms`. */
export const delay = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** The rejection of `promise` (fails the test when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the promise to reject, it resolved');
}

/**
 * Registers the hooks of a test file that talks to a gateway through a test proxy: one Redis, gateway and
 * proxy for the file; before each test an empty Redis, an empty request log and the proxy doing `action`.
 * `use` receives the stack and the proxy once they run.
 */
export function useProxiedStack(
  use: (stack: Stack, proxy: TestProxy) => void,
  action: ProxyAction = { kind: 'forward' },
) {
  let stack: Stack | undefined;
  let proxy: TestProxy | undefined;
  beforeAll(async () => {
    stack = await startStack();
    proxy = await startProxy(stack.gateway.url);
    use(stack, proxy);
  });
  afterAll(async () => {
    await proxy?.close();
    await stack?.stop();
  });
  beforeEach(async () => {
    await stack?.flush();
    if (proxy === undefined) return;
    proxy.requests.length = 0;
    proxy.behave(() => action);
  });
}
