import type { Route } from '../../http/router.js';
import { nearCachesOf, ping as pingRedis } from '../../redis/backend.js';
import { ReplyTimeoutError } from '../../redis/connection.js';
import { countByStatus, DATABASE_STATUSES } from '../../redis/databases.js';
import { VERSION } from '../../version.js';
import type { Services } from '../services.js';

/** Readiness probes wait at most this long for Redis's PING, so a probe never outlives its caller's timeout. */
const PROBE_TIMEOUT_MS = 1000;

type RedisStatus = { status: 'up'; latencyMs: number } | { status: 'down'; reason: string };

const statusSchema = (values: string[]) => ({
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string', enum: values }, reason: { type: 'string' } },
});

const healthSchema = {
  type: 'object',
  required: ['status', 'version', 'uptimeSeconds', 'redis'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    version: { type: 'string' },
    uptimeSeconds: { type: 'integer' },
    redis: {
      type: 'object',
      required: ['status'],
      properties: {
        status: { type: 'string', enum: ['up', 'down'] },
        latencyMs: { type: 'number' },
        reason: {
          type: 'string',
          description:
            'Why Redis is down, in fixed words with an error code and never an address or a secret: "Redis refused the username or password (WRONGPASS)", "connection refused (ECONNREFUSED)", "TLS: the server certificate is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE)", "shutting down", ...',
        },
      },
    },
    nearCache: {
      type: 'object',
      description:
        'Present with CACHEGATE_NEAR_CACHE=on: whether Redis tracking is live (entries are served only then).',
      required: ['tracking', 'entries', 'bytes'],
      properties: {
        tracking: { type: 'string', enum: ['live', 'down'] },
        entries: { type: 'integer' },
        bytes: { type: 'integer' },
      },
    },
    replicas: {
      type: 'object',
      description:
        'Present with CACHEGATE_READ_FROM=replicas and replicas known: how many take reads now, and how many are skipped (down, unlinked from their primary, or lagging past CACHEGATE_REPLICA_MAX_LAG_MS). Reads fall back to primaries; it does not change "status". Per node, with lag: /metrics (cachegate_redis_node_up, cachegate_redis_replica_lag_seconds).',
      required: ['usable', 'skipped'],
      properties: { usable: { type: 'integer' }, skipped: { type: 'integer' } },
    },
    databases: {
      type: 'object',
      description:
        'How many tokens-file databases (redisUrl) are in each state; "idle" is unconnected for lack of traffic, not a failure. They do not change "status". Names are on /metrics (cachegate_database_state), which needs a token.',
      required: [...DATABASE_STATUSES],
      properties: Object.fromEntries(DATABASE_STATUSES.map((status) => [status, { type: 'integer' }])),
    },
  },
};

/**
 * Health endpoints, public and free of secrets:
 * - `GET /livez`: the process runs (no Redis call);
 * - `GET /readyz`: the main Redis answers PING; 503 + Retry-After when it does not or while shutting down;
 * - `GET /health`: readiness with details (the seed's endpoint), among them why Redis is down,
 *   with how many tokens-file databases are in each state (no names, no addresses). Only the main Redis decides readiness:
 *   a tenant's database being down must not take the gateway out of its load balancer.
 */
export function healthRoutes({ backend, databases, config, drain }: Services): Route[] {
  // One PING at a time, whoever asks: probes need no token, so a flood of them must not become Redis load.
  let pinging: Promise<RedisStatus> | undefined;
  const probe = (): Promise<RedisStatus> => {
    pinging ??= ping().finally(() => {
      pinging = undefined;
    });
    return pinging;
  };
  const ping = async (): Promise<RedisStatus> => {
    if (drain.isDraining) return { status: 'down', reason: 'shutting down' };
    // The failure's reason is fixed words with an error code (WRONGPASS, ECONNREFUSED, ...), no address.
    if (!backend.isReady) return { status: 'down', reason: backend.failure?.reason ?? 'not connected' };
    const started = performance.now();
    try {
      await pingRedis(backend, Date.now() + Math.min(PROBE_TIMEOUT_MS, config.commandTimeoutMs));
      return { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100 };
    } catch (error) {
      // Fixed words: the error's own message names Redis's address, which is not for a public route.
      return {
        status: 'down',
        reason: error instanceof ReplyTimeoutError ? 'no answer in time' : 'connection lost',
      };
    }
  };
  const tags = ['operations'];
  return [
    {
      path: '/livez',
      isPublic: true,
      operations: {
        GET: {
          handle: (ctx) => ctx.send(200, '{"status":"ok"}'),
          doc: {
            summary: 'Liveness: the process serves',
            tags,
            responses: { 200: { schema: statusSchema(['ok']) } },
          },
        },
      },
    },
    {
      path: '/readyz',
      isPublic: true,
      operations: {
        GET: {
          handle: async (ctx) => {
            const redis = await probe();
            if (redis.status === 'up') return ctx.send(200, '{"status":"ready"}');
            ctx.headers.push('retry-after', '1');
            ctx.send(503, JSON.stringify({ status: 'unavailable', reason: redis.reason }));
          },
          doc: {
            summary: 'Readiness: Redis answers PING and the gateway is not draining',
            tags,
            responses: {
              200: { schema: statusSchema(['ready']) },
              503: { schema: statusSchema(['unavailable']) },
            },
          },
        },
      },
    },
    {
      path: '/health',
      isPublic: true,
      operations: {
        GET: {
          handle: async (ctx) => {
            const redis = await probe();
            const statuses = databases.statuses();
            const caches = nearCachesOf(backend);
            const replicas = backend.nodes().filter((node) => node.role === 'replica');
            const body = JSON.stringify({
              status: redis.status === 'up' ? 'ok' : 'unavailable',
              version: VERSION,
              uptimeSeconds: Math.round(process.uptime()),
              redis,
              ...(caches.length === 0
                ? {}
                : {
                    nearCache: {
                      tracking: caches.every((cache) => cache.isLive) ? 'live' : 'down',
                      entries: caches.reduce((total, cache) => total + cache.store.size, 0),
                      bytes: caches.reduce((total, cache) => total + cache.store.bytes, 0),
                    },
                  }),
              // Counts only, like databases: node addresses are on /metrics, which needs a token.
              ...(replicas.length === 0
                ? {}
                : {
                    replicas: {
                      usable: replicas.filter((node) => node.isUp).length,
                      skipped: replicas.filter((node) => !node.isUp).length,
                    },
                  }),
              // Counts only: database names (often tenants') are not for unauthenticated callers.
              ...(statuses.length === 0 ? {} : { databases: countByStatus(statuses) }),
            });
            if (redis.status === 'up') return ctx.send(200, body);
            ctx.headers.push('retry-after', '1');
            ctx.send(503, body);
          },
          doc: {
            summary: 'Readiness with details, and why Redis is down when it is',
            tags,
            responses: { 200: { schema: healthSchema }, 503: { schema: healthSchema } },
          },
        },
      },
    },
  ];
}
