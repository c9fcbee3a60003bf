import cluster from 'node:cluster';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gateway, GatewayLogger } from './app.js';
import { TokenStore, TokensFileError } from './auth/token-store.js';
import { isSubcommand, runSubcommand, SUBCOMMAND_USAGE } from './cli/commands.js';
import { EXIT } from './cli/io.js';
import {
  type Config,
  ConfigError,
  configHelp,
  hasRedisBackend,
  loadConfig,
  variableForFlag,
} from './config.js';
import { generateSecret, type RedisServer, startRedisServer } from './redis/embedded.js';
import type { RedisFailure } from './redis/failure.js';
import { VERSION } from './version.js';
import { clusterWorkerPeers } from './warming/peers.js';

/** The gateway's heavier modules (HTTP, metrics, logs), loaded only to serve: a subcommand starts without them. */
async function gatewayModules() {
  const [{ buildApp }, { createLogger }, { listenForMetrics }, { runWorkers }, { AggregatorRegistry }] =
    await Promise.all([
      import('./app.js'),
      import('./log.js'),
      import('./metrics-listener.js'),
      import('./workers.js'),
      import('prom-client'),
    ]);
  return { buildApp, createLogger, listenForMetrics, runWorkers, AggregatorRegistry };
}

/** How long a worker waits for Redis before it takes connections anyway (and answers 503 until ready). */
const WORKER_READY_WAIT_MS = 5000;

/**
 * The `cachegate` command: the only place that reads process.env, argv and signals.
 * loadConfig -> (embedded Redis when no REDIS_URL) -> buildApp -> listen, in this process or in
 * CACHEGATE_WORKERS forked workers; SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the tokens file.
 */
async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const [first, ...rest] = argv;
  if (isSubcommand(first)) return runCli(first, rest, env);
  const flags = parseFlags(argv);
  if (flags === 'help') return printHelp();
  if (flags === 'version') return void console.log(VERSION);
  let config = loadConfig({ ...env, ...flags });
  const { createLogger, runWorkers } = await gatewayModules();
  // A worker gets everything resolved by the primary through its environment.
  if (cluster.isWorker) return serve(config, { isWorker: true });
  if (env.npm_command !== undefined) stopWhenNpmExits();

  const production = config.nodeEnv === 'production';
  const hasTokens = [config.token, config.readonlyToken, config.adminToken, config.tokensFile].some(Boolean);
  if (production && !hasTokens) {
    fail('NODE_ENV=production and no token is configured: set CACHEGATE_TOKEN (or CACHEGATE_TOKENS_FILE).');
  }
  let embedded: RedisServer | undefined;
  if (!hasRedisBackend(config)) {
    if (production) fail('NODE_ENV=production needs REDIS_URL: the embedded Redis is a development setup.');
    const password = generateSecret();
    // Persistence as in production: the append-only file, no RDB snapshots. A runaway script is killable
    // once the command timeout passed, as docs/operations.md advises for any Redis behind the gateway.
    const settings = ['appendonly yes', 'save ""', `busy-reply-threshold ${config.commandTimeoutMs}`];
    embedded = await startRedisServer({ dir: join(config.dataDir, 'redis'), password, config: settings });
    config = { ...config, redisUrl: embedded.url, redisPassword: password };
  }
  const devToken = hasTokens ? undefined : developmentToken(config.dataDir);
  if (devToken !== undefined) config = { ...config, adminToken: devToken };
  // A development setup holds an admin token it prints: it stays on this machine unless HOST says otherwise.
  const host = config.host ?? (embedded || devToken ? '127.0.0.1' : '0.0.0.0');
  config = { ...config, host };
  const banner = () => {
    if (embedded !== undefined || devToken !== undefined) printDevelopmentBanner(config, embedded, devToken);
  };

  try {
    if (config.workers > 1) {
      const log = createLogger(config.logLevel, config.logFormat);
      const resolved: Record<string, string> = { ...flags };
      if (embedded)
        Object.assign(resolved, {
          CACHEGATE_REDIS_URL: embedded.url,
          CACHEGATE_REDIS_PASSWORD: config.redisPassword,
        });
      if (devToken) resolved.CACHEGATE_ADMIN_TOKEN = devToken;
      resolved.HOST = host;
      const { stopped } = await runWorkers({
        count: config.workers,
        env: resolved,
        host,
        log,
        ...(config.metricsPort === undefined ? {} : { metricsPort: config.metricsPort }),
      });
      banner();
      logSignals(log);
      await stopped;
      await embedded?.stop();
      log.info('stopped');
      process.exit(0);
    }
    await serve(config, { isWorker: false, embedded, banner });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

/** Runs one gateway in this process until SIGTERM/SIGINT, then drains and exits 0. */
async function serve(
  config: Config,
  context: { isWorker: boolean; embedded?: RedisServer | undefined; banner?: (() => void) | undefined },
) {
  const { buildApp, createLogger, listenForMetrics, AggregatorRegistry } = await gatewayModules();
  const app = await buildApp(config, {
    logger: createLogger(config.logLevel, config.logFormat),
    // Workers answer for the hot set together, through the primary (see workers.ts).
    ...(context.isWorker ? { hotKeysPeers: clusterWorkerPeers() } : {}),
  });
  stopWhenCredentialsRefused(app);
  const host = config.host ?? '0.0.0.0';
  // Workers share one port: a worker that takes connections before its Redis is ready answers 503 while
  // its siblings are ready. It waits for Redis, for a bounded time, so that an outage still lets it start.
  if (context.isWorker && !app.backend.isReady) {
    await new Promise<void>((ready) => {
      const timer = setTimeout(ready, WORKER_READY_WAIT_MS);
      app.backend.on('up', () => {
        clearTimeout(timer);
        ready();
      });
    });
  }
  // With the near cache on, the first requests find the saved hot set in memory (bounded in time).
  await app.warmStart();
  await app.listen({ port: config.port, host });
  // Workers report to the primary's aggregated metrics listener; a single process serves its own.
  if (context.isWorker) {
    // Constructing an AggregatorRegistry installs prom-client's IPC listener that answers the primary.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([app.metrics.registry]);
  }
  const metricsServer =
    context.isWorker || config.metricsPort === undefined
      ? undefined
      : await listenForMetrics(config.metricsPort, host, app.metrics.registry.contentType, () =>
          app.metrics.registry.metrics(),
        );
  context.banner?.();
  if (!context.isWorker) logSignals(app.log);

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: draining in-flight requests');
    const force = setTimeout(() => {
      app.log.error('in-flight requests did not finish within CACHEGATE_SHUTDOWN_GRACE_MS; exiting anyway');
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    metricsServer?.close();
    await app.close();
    await context.embedded?.stop();
    clearTimeout(force);
    app.log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGHUP', () => {
    try {
      app.reloadTokens(TokenStore.load(config, config.tokensFile));
      app.log.info({ tokens: app.tokens.size }, 'tokens reloaded');
    } catch (error) {
      app.log.error({ err: error }, 'tokens not reloaded; the previous tokens stay in force');
    }
  });
}

/**
 * Credentials Redis refuses before the gateway ever reached it are a configuration error, like a bad
 * setting: say so and exit 2, so that Compose, systemd or Kubernetes show a failing service rather than a
 * live one answering 503 forever. Refused later (a password rotated on the server), the gateway keeps
 * retrying with the reason in its log and on /health: it may have requests to finish, and the fix may come
 * from Redis's side (decision 0030).
 */
function stopWhenCredentialsRefused(app: Gateway): void {
  let hasBeenUp = app.backend.isReady;
  let isStopping = false;
  app.backend.on('up', () => {
    hasBeenUp = true;
  });
  const onFailure = (failure: RedisFailure) => {
    if (hasBeenUp || isStopping || failure.kind !== 'credentials') return;
    isStopping = true;
    app.log.fatal(
      { reason: failure.reason },
      `Redis refused the gateway's login at start: ${failure.reason}. Check CACHEGATE_REDIS_PASSWORD (or the user and password in CACHEGATE_REDIS_URL, or CACHEGATE_REDIS_SENTINEL_PASSWORD) against Redis's requirepass or ACL user; stopping`,
    );
    void app.close().finally(() => process.exit(2));
  };
  app.backend.on('failure', onFailure);
  if (app.backend.failure !== undefined) onFailure(app.backend.failure);
}

/**
 * Says which process to signal: under npm (`npm start`, `npx`) or a wrapper script it is not the one that
 * was started, and the readable log format leaves out the pid of every JSON line.
 */
function logSignals(log: GatewayLogger) {
  log.info(
    { processId: process.pid },
    'signals to this process: SIGHUP reloads the tokens file, SIGTERM or SIGINT drains and stops',
  );
}

/**
 * Under npm (`npm start`, `npx`), npm passes SIGTERM and SIGHUP to the shell it started the gateway with,
 * which exits and leaves the gateway running without a parent, holding its port. So once the parent is
 * gone, the gateway stops as SIGTERM stops it: drains, exits 0. Reloading takes a SIGHUP sent to the
 * gateway's own process (logSignals).
 */
function stopWhenNpmExits() {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    process.kill(process.pid, 'SIGTERM');
  }, 500);
  watch.unref();
}

/**
 * Runs a subcommand (`cachegate warm`, `cachegate hot-keys`) with this process's streams and environment.
 * The first Ctrl-C (or SIGTERM) asks it to stop cleanly and say how far it got; a second one exits at once.
 */
async function runCli(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const interrupt = new AbortController();
  const stop = () => {
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    interrupt.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const status = await runSubcommand(name, args, {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    isTerminal: process.stderr.isTTY === true,
    env,
    signal: interrupt.signal,
  });
  // Kept-alive HTTP connections would hold the process for seconds: exit once the output is written.
  await new Promise((done) => process.stdout.write('', done));
  process.exit(status);
}

/** Turns `--redis-url=x` / `--redis-url x` into `{ CACHEGATE_REDIS_URL: 'x' }`. */
function parseFlags(argv: string[]): Record<string, string> | 'help' | 'version' {
  const overrides: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--version' || arg === '-v') return 'version';
    const [flag = '', inline] = arg.split(/=(.*)/s, 2);
    const variable = arg.startsWith('--') ? variableForFlag(flag) : undefined;
    if (variable === undefined) fail(`Unknown argument ${JSON.stringify(arg)}. Run cachegate --help.`);
    const value = inline ?? argv[++i];
    if (value === undefined) fail(`${flag} needs a value`);
    overrides[variable] = value;
  }
  return overrides;
}

function printHelp() {
  console.log(`cachegate ${VERSION}: HTTP gateway in front of Redis, compatible with the Upstash Redis REST API.

Usage: cachegate [--<setting> <value>]...
${SUBCOMMAND_USAGE}

Every setting is an environment variable; the flag form is the name in lower case with dashes, without
the CACHEGATE_ prefix (--redis-url, --command-timeout-ms, --port). Names after a comma are accepted aliases.

${configHelp()}
`);
}

/**
 * The token of a development setup: generated once and kept in the data directory, so it survives
 * restarts of `npm start`. It has admin scope: the embedded Redis is a throwaway local instance.
 */
function developmentToken(dataDir: string): string {
  const file = join(dataDir, 'dev-token');
  if (existsSync(file)) {
    const saved = readFileSync(file, 'utf8').trim();
    if (saved.length >= 16) return saved;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = generateSecret(32);
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

function printDevelopmentBanner(
  config: Config,
  embedded: RedisServer | undefined,
  token: string | undefined,
) {
  const host = config.host ?? '127.0.0.1';
  const base = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${config.port}`;
  const lines = [
    '',
    '  cachegate is running as a DEVELOPMENT setup. Do not use it like this in production.',
    embedded
      ? `  Redis: embedded redis-server on 127.0.0.1:${embedded.port}, data in ${join(config.dataDir, 'redis')}`
      : undefined,
    token
      ? `  Token (admin scope, saved in ${join(config.dataDir, 'dev-token')}). Copy this line into your shell:\n\n    export TOKEN=${token}\n`
      : '  Tokens: the ones you configured; set TOKEN to one of them for the lines below.',
    `  Try:  curl -X PUT ${base}/v1/cache/hello -H "Authorization: Bearer $TOKEN" -d '{"value":{"hi":1}}'`,
    `        curl ${base}/v1/cache/hello -H "Authorization: Bearer $TOKEN"`,
    `  API reference: ${base}/docs`,
    host === '127.0.0.1'
      ? '  Listening on 127.0.0.1 only: set HOST=0.0.0.0 to reach it from other machines.'
      : `  Listening on ${host}: reachable from other machines, with the admin token above.`,
    '  For production set REDIS_URL and CACHEGATE_TOKEN (see README).',
    '',
  ];
  console.log(lines.filter((line) => line !== undefined).join('\n'));
}

function fail(message: string): never {
  throw new StartupError(message);
}

class StartupError extends Error {}

main(process.argv.slice(2), process.env).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof TokensFileError || error instanceof StartupError) {
    console.error(`cachegate: ${error.message}`);
    process.exit(2);
  }
  console.error(`cachegate: ${(error as Error).message ?? error}`);
  process.exit(1);
});
