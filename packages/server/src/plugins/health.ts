import type { FastifyInstance } from 'fastify';
import { VERSION } from '../version.js';

/** Readiness probes wait at most this long for Redis's PING, so a probe never outlives its caller's timeout. */
const PROBE_TIMEOUT_MS = 1000;

type RedisStatus = { status: 'up'; latencyMs: number } | { status: 'down'; reason: string };

/**
 * Health endpoints, public and free of secrets:
 * - `GET /livez`: the process runs (no Redis call);
 * - `GET /readyz`: Redis answers PING; 503 + Retry-After when it does not or while shutting down;
 * - `GET /health`: readiness with details (the seed's endpoint, probed by the SDK's availability check).
 */
async function healthPlugin(app: FastifyInstance) {
  const probeRedis = async (): Promise<RedisStatus> => {
    if (app.isDraining) return { status: 'down', reason: 'shutting down' };
    if (!app.backend.isReady) return { status: 'down', reason: 'not connected' };
    const started = performance.now();
    try {
      await app.backend.ping(Date.now() + Math.min(PROBE_TIMEOUT_MS, app.config.commandTimeoutMs));
      return { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100 };
    } catch (error) {
      return { status: 'down', reason: (error as Error).message };
    }
  };

  const config = { public: true };
  const redisSchema = {
    type: 'object',
    required: ['status'],
    properties: {
      status: { type: 'string', enum: ['up', 'down'] },
      latencyMs: { type: 'number' },
      reason: { type: 'string' },
    },
  };
  const healthSchema = {
    type: 'object',
    required: ['status', 'version', 'uptimeSeconds', 'redis'],
    properties: {
      status: { type: 'string', enum: ['ok', 'unavailable'] },
      version: { type: 'string' },
      uptimeSeconds: { type: 'integer' },
      redis: redisSchema,
    },
  };
  const statusSchema = (values: string[]) => ({
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: values }, reason: { type: 'string' } },
  });

  app.get(
    '/livez',
    {
      config,
      schema: {
        summary: 'Liveness: the process serves',
        tags: ['operations'],
        response: { 200: statusSchema(['ok']) },
      },
    },
    async () => ({ status: 'ok' }),
  );

  const readySchema = {
    summary: 'Readiness: Redis answers PING and the gateway is not draining',
    tags: ['operations'],
    response: { 200: statusSchema(['ready']), 503: statusSchema(['unavailable']) },
  };
  app.get('/readyz', { config, schema: readySchema }, async (_request, reply) => {
    const redis = await probeRedis();
    if (redis.status === 'up') return { status: 'ready' };
    return reply.code(503).header('retry-after', '1').send({ status: 'unavailable', reason: redis.reason });
  });

  const detailSchema = {
    summary: 'Readiness with details (probed by the SDK)',
    tags: ['operations'],
    response: { 200: healthSchema, 503: healthSchema },
  };
  app.get('/health', { config, schema: detailSchema }, async (_request, reply) => {
    const redis = await probeRedis();
    const body = {
      status: redis.status === 'up' ? 'ok' : 'unavailable',
      version: VERSION,
      uptimeSeconds: Math.round(process.uptime()),
      redis,
    };
    if (redis.status === 'up') return body;
    return reply.code(503).header('retry-after', '1').send(body);
  });
}

export default healthPlugin;
