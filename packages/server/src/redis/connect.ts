import { readFileSync } from 'node:fs';
import type { DatabaseSettings } from '../auth/database.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisBackend } from './backend.js';
import { RoutedBackend } from './routed-backend.js';
import { ScopeUsers } from './scope-users.js';
import type { SubscriptionCount } from './subscriber.js';
import { ClusterTopology } from './topology/cluster.js';
import type { NodeSettings } from './topology/nodes.js';
import { SentinelTopology } from './topology/sentinel.js';
import { StandaloneTopology } from './topology/standalone.js';
import type { Topology } from './topology/topology.js';

/**
 * Opens the backend the configuration describes: Sentinel, Cluster or standalone, reading from replicas
 * when CACHEGATE_READ_FROM=replicas. Returns at once: while Redis is unreachable the backend reports not
 * ready and keeps retrying, so the gateway can start (and report unready) before Redis does.
 */
export function connectRedis(
  config: Config,
  logger: Logger,
  subscriptions?: SubscriptionCount,
): RedisBackend {
  const readsFromReplicas = config.readFrom === 'replicas';
  const scopeUsers = scopeUsersFor(config, config.redisUrl, config.redisPassword, logger, {
    grantsRole: readsFromReplicas,
  });
  const settings: NodeSettings = {
    commandTimeoutMs: config.commandTimeoutMs,
    maxReplyDepth: config.maxJsonDepth,
    maxReplyBytes: config.maxReplyBytes,
    password: config.redisPassword,
    tlsCa: config.redisTlsCa === undefined ? undefined : readFileSync(config.redisTlsCa),
    logger,
    subscriptions,
    scopeUsers,
    nearCache:
      config.nearCache === 'on'
        ? { maxBytes: config.nearCacheMaxBytes, prefixes: config.nearCachePrefixes }
        : undefined,
    shard: {
      readsFromReplicas,
      maxLagMs: config.replicaMaxLagMs,
      onlyReplicas:
        config.redisReplicas.length === 0
          ? undefined
          : new Set(config.redisReplicas.map(({ host, port }) => `${host}:${port}`)),
      logger,
    },
  };
  let topology: Topology;
  if (config.redisSentinels.length > 0) {
    topology = new SentinelTopology({
      ...settings,
      tls: config.redisTls,
      sentinels: config.redisSentinels,
      masterName: config.redisSentinelMaster ?? '',
      sentinelPassword: config.redisSentinelPassword,
    });
  } else if (config.redisClusterNodes.length > 0) {
    topology = new ClusterTopology({ ...settings, tls: config.redisTls, nodes: config.redisClusterNodes });
  } else {
    topology = new StandaloneTopology({
      ...settings,
      url: config.redisUrl ?? '',
      replicas: readsFromReplicas ? config.redisReplicas : [],
    });
  }
  return new RoutedBackend({ topology, scopeUsers, tracksOffsets: readsFromReplicas, logger });
}

/**
 * Opens the standalone backend of a tokens-file database (no replicas, no near cache). Its scope users are
 * created there as on the main Redis, with passwords derived from this database's own credentials.
 */
export function connectDatabase(
  config: Config,
  database: DatabaseSettings,
  logger: Logger,
  subscriptions?: SubscriptionCount,
): RedisBackend {
  const scopeUsers = scopeUsersFor(config, database.url, database.password, logger, {
    database: database.name,
  });
  const topology = new StandaloneTopology({
    subscriptions,
    url: database.url,
    password: database.password,
    tlsCa: database.tlsCa,
    commandTimeoutMs: config.commandTimeoutMs,
    maxReplyDepth: config.maxJsonDepth,
    maxReplyBytes: config.maxReplyBytes,
    logger,
    scopeUsers,
    shard: { readsFromReplicas: false, maxLagMs: config.replicaMaxLagMs, logger },
  });
  return new RoutedBackend({ topology, scopeUsers, logger });
}

/**
 * The scope users of one Redis. Their passwords derive from that Redis's own credentials (the URL's user,
 * and the password given apart or else in the URL), so every gateway process in front of it agrees.
 */
function scopeUsersFor(
  config: Config,
  redisUrl: string | undefined,
  password: string | undefined,
  logger: Logger,
  { database, grantsRole }: { database?: string; grantsRole?: boolean } = {},
): ScopeUsers {
  const url = redisUrl === undefined ? undefined : new URL(redisUrl);
  const secret = password ?? (url?.password ? decodeURIComponent(url.password) : '');
  return new ScopeUsers({
    mode: config.scopeUsers,
    secret: `${url?.username ?? ''}\0${secret}`,
    database,
    grantsRole,
    commandTimeoutMs: config.commandTimeoutMs,
    logger,
  });
}
