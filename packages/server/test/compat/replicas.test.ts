import { startTestReplicaSet } from '../helpers/topologies.js';
import { describeUpstashCompat } from './upstash-suite.js';

// The same suite with reads on a replica (issue 25): the SDK's own read-your-writes token keeps every
// test's writes visible to its reads, with no change to the SDK.
describeUpstashCompat('standalone, reads on a replica', async () => {
  const set = await startTestReplicaSet(1);
  return {
    gatewayEnv: {
      CACHEGATE_REDIS_URL: set.primary.url,
      CACHEGATE_READ_FROM: 'replicas',
      CACHEGATE_REDIS_REPLICAS: set.addresses,
    },
    flush: async () => {
      await set.primary.command('FLUSHALL');
      await set.waitForReplicas();
    },
    // Another program's write carries no token: wait until the replica has it, as its readers would.
    rawSet: async (key, value) => {
      await set.primary.command('SET', key, value);
      await set.waitForReplicas();
    },
    catchUp: () => set.waitForReplicas(),
    stop: () => set.stop(),
  };
});
