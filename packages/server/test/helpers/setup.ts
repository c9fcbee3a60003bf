import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startGateway, type TestGateway } from './gateway.js';
import { startTestRedis, type TestRedis } from './redis.js';

/**
 * The usual set-up of a test file: a redis-server and a gateway on it, started before its tests and stopped
 * after them, with Redis flushed before each test unless `flushEach` is false. `ready` receives both once
 * they are up.
 * @example
 * let redis: TestRedis;
 * let gateway: TestGateway;
 * withRedisAndGateway((started) => ({ redis, gateway } = started));
 */
export function withRedisAndGateway(
  ready: (started: { redis: TestRedis; gateway: TestGateway }) => void,
  env: Record<string, string> = {},
  { flushEach = true } = {},
): void {
  let redis: TestRedis | undefined;
  let gateway: TestGateway | undefined;
  beforeAll(async () => {
    redis = await startTestRedis();
    gateway = await startGateway(redis.url, env);
    ready({ redis, gateway });
  });
  afterAll(async () => {
    await gateway?.close();
    await redis?.stop();
  });
  beforeEach(async () => {
    if (flushEach) await redis?.command('FLUSHALL');
  });
}
