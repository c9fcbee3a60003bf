import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import cors from '@fastify/cors';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { TokenStore } from './auth/token-store.js';
import { type Config, hasRedisBackend } from './config.js';
import authPlugin from './plugins/auth.js';
import errorHandlerPlugin, { answerFrameworkError } from './plugins/error-handler.js';
import healthPlugin from './plugins/health.js';
import inFlightPlugin from './plugins/in-flight.js';
import loadPlugin from './plugins/load.js';
import metricsPlugin, { GatewayMetrics } from './plugins/metrics.js';
import openapiPlugin from './plugins/openapi.js';
import rateLimitPlugin from './plugins/rate-limit.js';
import requestLogPlugin from './plugins/request-log.js';
import type { RedisBackend } from './redis/backend.js';
import { connectRedis } from './redis/connect.js';
import { CommandExecutor } from './redis/executor.js';
import type { Principal } from './redis/policy.js';
import cacheRoutes from './routes/cache/index.js';
import upstashRoutes from './routes/upstash/index.js';
import { SyncToken } from './routes/upstash/sync-token.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Validated configuration the app was built with. */
    config: Config;
    /** Connections to Redis and their health. */
    backend: RedisBackend;
    /** The one path from command arrays to Redis: policy, then execution within the timeout. */
    executor: CommandExecutor;
    /** Configured tokens; replaced in place on SIGHUP. */
    tokens: TokenStore;
    /** The read-your-writes token of Upstash responses. */
    syncToken: SyncToken;
  }
  interface FastifyRequest {
    /** Who sent the request; set by the auth plugin on every non-public route. */
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** Served without a token (health probes). */
    public?: boolean;
  }
}

/** Collaborators that tests or `main.ts` may supply instead of the defaults built from the config. */
export interface AppDependencies {
  /** A pino logger, or Fastify logger options. @default JSON logs at `config.logLevel` */
  logger?: FastifyBaseLogger;
  /** Tokens to accept. @default built from the token variables and `config.tokensFile` */
  tokens?: TokenStore;
}

/** Header names that carry secrets, removed from every log line. */
const REDACTED_HEADERS = ['req.headers.authorization', 'req.headers["x-api-key"]'];

/**
 * Builds the gateway: Fastify with its plugins and routes, connected (in the background) to Redis. Never
 * listens; `main.ts` does, and tests use `inject` or `listen({ port: 0 })`.
 * @example
 * const app = await buildApp(loadConfig(process.env));
 * await app.listen({ port: 8080 });
 */
export async function buildApp(config: Config, deps: AppDependencies = {}): Promise<FastifyInstance> {
  if (!hasRedisBackend(config)) {
    throw new Error('buildApp needs a Redis backend (main.ts starts the embedded Redis)');
  }
  const bootId = randomBytes(4).toString('hex');
  let requestCount = 0;
  const app = Fastify({
    ...(config.tlsCert && config.tlsKey
      ? { https: { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } }
      : {}),
    ...(deps.logger
      ? { loggerInstance: deps.logger }
      : {
          logger: {
            level: config.logLevel,
            redact: { paths: REDACTED_HEADERS, censor: '[redacted]' },
            // The query string may carry `_token`: log paths only.
            serializers: {
              req: (req: { method?: string; url?: string }) => ({
                method: req.method,
                path: req.url?.split('?', 1)[0],
              }),
            },
          },
        }),
    bodyLimit: config.maxBodyBytes,
    requestTimeout: config.requestTimeoutMs,
    // plugins/in-flight.ts answers requests that arrive while draining, in the gateway's format.
    return503OnClosing: false,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Keys and path-form arguments can be long; the URL is bounded by Node's header size limit anyway.
    routerOptions: { maxParamLength: 64 * 1024 },
    // plugins/request-log.ts writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Cache API bodies are validated strictly: no silent type coercion, unknown fields are errors.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    frameworkErrors: answerFrameworkError,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,64}$/.test(given)
        ? given
        : `${bootId}-${++requestCount}`;
    },
  });

  // Slow-loris guard: headers must arrive within 10 s even though idle keep-alive connections live long.
  app.server.headersTimeout = Math.min(10_000, config.requestTimeoutMs);
  app.decorate('config', config);
  app.decorate('tokens', deps.tokens ?? TokenStore.load(config, config.tokensFile));
  app.decorate('backend', connectRedis(config, app.log.child({ component: 'redis' })));
  app.backend.setTokenUsers(app.tokens.principals());
  app.decorate('metrics', new GatewayMetrics(() => app.inFlight()));
  app.decorate(
    'executor',
    new CommandExecutor(app.backend, {
      commandTimeoutMs: config.commandTimeoutMs,
      observer: app.metrics,
      writeReplicas: config.writeReplicas,
    }),
  );
  app.decorate('syncToken', new SyncToken());
  app.addHook('onClose', async () => app.backend.close());

  // Every route reads its body as raw bytes: path-form commands take them verbatim as a value, and the JSON
  // routes parse them themselves, so any Content-Type is accepted (as Upstash does).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: [
        'Authorization',
        'Content-Type',
        'X-API-Key',
        'Upstash-Encoding',
        'upstash-sync-token',
        'Upstash-Telemetry-Runtime',
        'Upstash-Telemetry-Platform',
        'Upstash-Telemetry-Sdk',
        'Upstash-Telemetry-Retry',
      ],
      exposedHeaders: [
        'upstash-sync-token',
        'x-request-id',
        'Retry-After',
        'Cachegate-Executed',
        'RateLimit-Limit',
        'RateLimit-Remaining',
        'RateLimit-Reset',
        'RateLimit-Policy',
      ],
      maxAge: 600,
    });
  }
  // Response schemas document the API (and tests check responses against them); they do not filter output.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await app.register(errorHandlerPlugin);
  await app.register(openapiPlugin);
  await app.register(inFlightPlugin);
  await app.register(requestLogPlugin);
  // Hooks run in this order: shed load first, then authenticate, then count against the token's limit.
  await app.register(loadPlugin);
  await app.register(authPlugin);
  await app.register(rateLimitPlugin);
  await app.register(metricsPlugin);
  await app.register(healthPlugin);
  await app.register(cacheRoutes);
  await app.register(upstashRoutes);
  return app;
}
