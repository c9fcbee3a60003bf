import { nodeCommand, startTestSentinel } from '../helpers/topologies.js';
import { describeUpstashCompat } from './upstash-suite.js';

describeUpstashCompat('Sentinel', async () => {
  const sentinel = await startTestSentinel();
  return {
    gatewayEnv: {
      CACHEGATE_REDIS_SENTINELS: sentinel.seeds,
      CACHEGATE_REDIS_SENTINEL_MASTER: sentinel.masterName,
    },
    flush: async () => void (await nodeCommand(await sentinel.masterPort(), 'FLUSHALL')),
    rawSet: async (key, value) => void (await nodeCommand(await sentinel.masterPort(), 'SET', key, value)),
    stop: () => sentinel.stop(),
  };
});
