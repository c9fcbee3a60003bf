import { startTestRedis } from '../helpers/redis.js';
import { describeUpstashCompat } from './upstash-suite.js';

describeUpstashCompat('standalone', async () => {
  const redis = await startTestRedis();
  return {
    gatewayEnv: { CACHEGATE_REDIS_URL: redis.url },
    flush: async () => void (await redis.command('FLUSHALL')),
    rawSet: async (key, value) => void (await redis.command('SET', key, value)),
    stop: () => redis.stop(),
  };
});
