import type { Server } from 'node:http';
import pino from 'pino';
import { AnswerBudget } from './answer-budget.js';
import { TokenStore } from './auth/token-store.js';
import { type Config, hasRedisBackend } from './config.js';
import { CommandExecutor } from './core/executor.js';
import { ScriptApproval } from './core/script-approval.js';
import { DrainState, HttpAdapter } from './http/adapter.js';
import { Cors } from './http/cors.js';
import { createListener } from './http/listener.js';
import { LoadShedder } from './http/load-shedder.js';
import { RateLimiter } from './http/rate-limiter.js';
import { type Route, Router } from './http/router.js';
import { GatewayMetrics } from './metrics.js';
import type { RedisBackend } from './redis/backend.js';
import { connectDatabase, connectRedis } from './redis/connect.js';
import { Databases } from './redis/databases.js';
import { SubscriptionCount } from './redis/subscriber.js';
import { hotKeysRoute } from './routes/admin/hot-keys.js';
import { batchRoutes } from './routes/cache/batch.js';
import { entryRoute } from './routes/cache/entry.js';
import { importRoute } from './routes/cache/import.js';
import { documentRoutes } from './routes/operations/document.js';
import { healthRoutes } from './routes/operations/health.js';
import { metricsRoute } from './routes/operations/metrics.js';
import type { Services } from './routes/services.js';
import { batchRoutes as commandBatchRoutes } from './routes/upstash/batch-route.js';
import { commandRoutes } from './routes/upstash/command.js';
import { monitorRoute } from './routes/upstash/monitor.js';
import { subscribeRoutes } from './routes/upstash/subscribe.js';
import { SyncToken } from './routes/upstash/sync-token.js';
import { HotSet } from './warming/hot-set.js';
import type { HotKeysPeers } from './warming/peers.js';
import type { WarmStartReport } from './warming/warm-start.js';
import { Warming } from './warming/warming.js';

// Embedders build a gateway from the same validated settings the command line uses.
export { type Config, ConfigError, loadConfig } from './config.js';

/** A pino logger: what the gateway logs with. */
export type GatewayLogger = pino.Logger;

/** Collaborators that tests or `main.ts` may supply instead of the defaults built from the config. */
export interface AppDependencies {
  /** @default JSON logs at `config.logLevel` */
  logger?: GatewayLogger;
  /** Tokens to accept. @default built from the token variables and `config.tokensFile` */
  tokens?: TokenStore;
  /** The other gateway processes of this host, for a hot set that covers them all. @default none */
  hotKeysPeers?: HotKeysPeers;
}

/** A built gateway: its listener, its Redis backend and what operators and tests look at. */
export interface Gateway {
  readonly config: Config;
  /** The HTTP(S) listener; not listening until {@link Gateway.listen}. */
  readonly server: Server;
  /** The main Redis (the default database). */
  readonly backend: RedisBackend;
  /** The main Redis and the tokens-file databases. */
  readonly databases: Databases;
  readonly metrics: GatewayMetrics;
  /** Configured tokens; replaced in place on SIGHUP. */
  readonly tokens: TokenStore;
  readonly log: GatewayLogger;
  /** The route table. */
  readonly routes: readonly Route[];
  /** Authenticated requests received and not yet answered (streams excluded). */
  inFlight(): number;
  /** What the process holds for others right now; each is back to 0 when the gateway is idle. */
  gauges(): {
    inFlight: number;
    bodyBytesReserved: number;
    answerBytesHeld: number;
    streams: number;
    redisSubscriptions: number;
    connections: number;
  };
  /**
   * Swaps in reloaded tokens (SIGHUP) and their databases: new ones are registered, removed or changed
   * ones closed after their in-flight requests.
   */
  reloadTokens(next: TokenStore): void;
  /**
   * Before listening: seeds the hot set from the one saved in Redis and, with the near cache on, fills the
   * near cache with it within CACHEGATE_WARM_START_MS. Never throws; undefined when there was nothing to fill.
   */
  warmStart(): Promise<WarmStartReport | undefined>;
  listen(options: { port: number; host: string }): Promise<void>;
  /** Drains (see HttpAdapter.drain), then closes Redis: nothing acknowledged is lost. */
  close(): Promise<void>;
}

/**
 * Builds the gateway: the Redis backend (connecting in the background), the executor and the HTTP adapter
 * with its route table. Never listens; `main.ts` does, and tests listen on port 0.
 * @example
 * const gateway = await buildApp(loadConfig(process.env));
 * await gateway.listen({ port: 8080, host: '0.0.0.0' });
 */
export async function buildApp(config: Config, deps: AppDependencies = {}): Promise<Gateway> {
  if (!hasRedisBackend(config)) {
    throw new Error('buildApp needs a Redis backend (main.ts starts the embedded Redis)');
  }
  const log = deps.logger ?? pino({ level: config.logLevel });
  const tokens = deps.tokens ?? TokenStore.load(config, config.tokensFile);
  const subscriptions = new SubscriptionCount();
  const backend = connectRedis(config, log.child({ component: 'redis' }), subscriptions);
  const databases = new Databases({
    main: backend,
    mainUrl: config.redisUrl,
    open: (database) =>
      connectDatabase(
        config,
        database,
        log.child({ component: 'redis', database: database.name }),
        subscriptions,
      ),
    idleMs: config.backendIdleMs,
    commandTimeoutMs: config.commandTimeoutMs,
    logger: log.child({ component: 'databases' }),
  });
  databases.setTokens(tokens.principals());
  let inFlight = () => 0;
  const metrics = new GatewayMetrics(backend, () => inFlight());
  // Followed from the executor's answers; undefined (no cost on the path) when off.
  const hotSet = config.hotKeys > 0 ? new HotSet(config.hotKeys) : undefined;
  const executor = new CommandExecutor(databases, {
    commandTimeoutMs: config.commandTimeoutMs,
    observer: metrics,
    writeReplicas: config.writeReplicas,
    maxMonitors: config.maxMonitors,
    mainDb: Number(new URL(config.redisUrl ?? 'redis://x/0').pathname.slice(1) || 0),
    scripts: new ScriptApproval(config.scripts, config.approvedScripts),
    ...(hotSet === undefined ? {} : { servedReads: hotSet }),
  });
  const warming = new Warming({
    hotSet,
    warmStartMs: config.warmStartMs,
    nearCacheMaxBytes: config.nearCache === 'on' ? config.nearCacheMaxBytes : undefined,
    executor,
    backend,
    peers: deps.hotKeysPeers,
    log: log.child({ component: 'warming' }),
  });
  metrics.observeMonitors(() => executor.openMonitors);
  metrics.observeDatabases(() => databases.statuses());
  metrics.observeReads(backend, executor.reads);
  metrics.observeNodes(backend);
  const shedder = new LoadShedder(config.maxInFlight, config.maxEventLoopDelayMs);
  const drain = new DrainState();
  const answers = new AnswerBudget(config.maxBufferedReplyBytes, config.maxAnswerBytes);
  metrics.observeStreams(() => drain.streams.size);
  const services: Services = {
    config,
    executor,
    backend,
    databases,
    metrics,
    syncToken: new SyncToken(config.readFrom === 'replicas'),
    drain,
    warming,
  };
  const routes: Route[] = [
    ...healthRoutes(services),
    metricsRoute(services),
    ...documentRoutes(() => routes),
    ...commandRoutes(services),
    ...commandBatchRoutes(services),
    ...subscribeRoutes(services),
    monitorRoute(services),
    entryRoute(services),
    ...batchRoutes(services),
    importRoute(services),
    hotKeysRoute(services),
  ];
  const adapter = new HttpAdapter({
    drain,
    router: new Router(routes),
    tokens,
    limiter: new RateLimiter({ fallback: config.rateLimit, store: config.rateLimitStore, executor, log }),
    shedder,
    cors: config.corsOrigins.length > 0 ? new Cors(config.corsOrigins) : undefined,
    metrics,
    log,
    slowRequestMs: config.slowRequestMs,
    maxBodyBytes: config.maxBodyBytes,
    maxBufferedBodyBytes: config.maxBufferedBodyBytes,
    answers,
    sendTimeoutMs: config.sendTimeoutMs,
  });
  inFlight = () => adapter.inFlight;
  metrics.observeBudgets(
    () => adapter.bufferedBodyBytes,
    () => answers.held,
  );
  metrics.observeSubscriptions(() => subscriptions.open);
  metrics.observeConnections(() => adapter.connections);
  const server = createListener(config, adapter);
  if (server.maxConnections < config.maxConnections) {
    log.warn(
      { maxConnections: server.maxConnections },
      "CACHEGATE_MAX_CONNECTIONS is held below the process's open-file limit (ulimit -n); raise that limit to allow more",
    );
  }
  return {
    config,
    server,
    backend,
    databases,
    metrics,
    tokens,
    log,
    routes,
    inFlight: () => adapter.inFlight,
    gauges: () => ({
      inFlight: adapter.inFlight,
      bodyBytesReserved: adapter.bufferedBodyBytes,
      answerBytesHeld: answers.held,
      streams: drain.streams.size,
      redisSubscriptions: subscriptions.open,
      connections: adapter.connections,
    }),
    reloadTokens: (next) => {
      tokens.replaceWith(next);
      databases.setTokens(tokens.principals());
      // Revocation ends what a token holds open: its subscriptions and MONITOR streams end now.
      const ended = drain.streams.endRevoked((principal) => tokens.isCurrent(principal));
      if (ended > 0) log.info({ streams: ended }, 'ended the streams of removed or changed tokens');
    },
    warmStart: () => warming.start(),
    listen: ({ port, host }) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          log.info({ address: server.address() }, 'listening');
          resolve();
        });
      }),
    close: async () => {
      if (server.listening) await adapter.drain(server);
      shedder.close();
      await warming.close();
      await databases.close();
    },
  };
}
