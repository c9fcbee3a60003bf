import { readFileSync } from 'node:fs';
import type { DatabaseSettings } from '../auth/database.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisBackend } from './backend.js';
import { ClusterBackend } from './cluster.js';
import { ScopeUsers } from './scope-users.js';
import { SentinelBackend } from './sentinel.js';
import { StandaloneBackend } from './standalone.js';
import type { SubscriptionCount } from './subscriber.js';

/**
 * Opens the backend the configuration describes: Sentinel, Cluster or standalone. Returns at once: while
 * Redis is unreachable the backend reports not ready and keeps retrying, so the gateway can start (and
 * report unready) before Redis does.
 */
export function connectRedis(
  config: Config,
  logger: Logger,
  subscriptions?: SubscriptionCount,
): RedisBackend {
  const nearCache =
    config.nearCache === 'on'
      ? { maxBytes: config.nearCacheMaxBytes, prefixes: config.nearCachePrefixes }
      : undefined;
  const common = {
    commandTimeoutMs: config.commandTimeoutMs,
    maxReplyDepth: config.maxJsonDepth,
    maxReplyBytes: config.maxReplyBytes,
    password: config.redisPassword,
    tlsCa: config.redisTlsCa === undefined ? undefined : readFileSync(config.redisTlsCa),
    logger,
    subscriptions,
    scopeUsers: scopeUsersFor(config, config.redisUrl, config.redisPassword, logger),
  };
  if (config.redisSentinels.length > 0) {
    return new SentinelBackend({
      ...common,
      nearCache,
      tls: config.redisTls,
      sentinels: config.redisSentinels,
      masterName: config.redisSentinelMaster ?? '',
      sentinelPassword: config.redisSentinelPassword,
    });
  }
  if (config.redisClusterNodes.length > 0) {
    return new ClusterBackend({
      ...common,
      nearCache,
      tls: config.redisTls,
      nodes: config.redisClusterNodes,
    });
  }
  return new StandaloneBackend({ ...common, nearCache, url: config.redisUrl ?? '' });
}

/**
 * Opens the standalone backend of a tokens-file database. Its scope users are created there as on the main
 * Redis, with passwords derived from this database's own credentials.
 */
export function connectDatabase(
  config: Config,
  database: DatabaseSettings,
  logger: Logger,
  subscriptions?: SubscriptionCount,
): RedisBackend {
  return new StandaloneBackend({
    subscriptions,
    url: database.url,
    password: database.password,
    tlsCa: database.tlsCa,
    commandTimeoutMs: config.commandTimeoutMs,
    maxReplyDepth: config.maxJsonDepth,
    maxReplyBytes: config.maxReplyBytes,
    logger,
    scopeUsers: scopeUsersFor(config, database.url, database.password, logger, database.name),
  });
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
  database?: string,
): ScopeUsers {
  const url = redisUrl === undefined ? undefined : new URL(redisUrl);
  const secret = password ?? (url?.password ? decodeURIComponent(url.password) : '');
  return new ScopeUsers({
    mode: config.scopeUsers,
    secret: `${url?.username ?? ''}\0${secret}`,
    database,
    commandTimeoutMs: config.commandTimeoutMs,
    logger,
  });
}
