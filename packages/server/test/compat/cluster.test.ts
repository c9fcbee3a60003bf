import { nodeCommand, startTestCluster } from '../helpers/topologies.js';
import { describeUpstashCompat } from './upstash-suite.js';

describeUpstashCompat('Cluster', async () => {
  const cluster = await startTestCluster(3, 0);
  return {
    gatewayEnv: { CACHEGATE_REDIS_CLUSTER_NODES: cluster.seeds },
    flush: () => cluster.flushAll(),
    rawSet: async (key, value) => {
      const port = await cluster.masterPortOf(key);
      await nodeCommand(port, 'SET', key, value);
    },
    stop: () => cluster.stop(),
  };
});
