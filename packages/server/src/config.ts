import { availableParallelism } from 'node:os';
import { parseRateLimit } from './rate-limit-rule.js';

/**
 * Every setting the gateway reads, in one table: the variable, the seed's aliases, the default, the parser
 * and the description that `cachegate --help` prints. `main.ts` is the only caller of {@link loadConfig}.
 */
const VARIABLES = {
  port: {
    env: 'PORT',
    default: '8080',
    parse: integer(0, 65535),
    help: 'TCP port for HTTP(S).',
  },
  host: {
    env: 'HOST',
    parse: text,
    help: 'Interface to listen on. Unset: 127.0.0.1 for a development setup (embedded Redis or generated token), else 0.0.0.0.',
  },
  redisUrl: {
    env: 'CACHEGATE_REDIS_URL',
    aliases: ['REDIS_URL'],
    parse: redisUrl,
    help: 'Standalone Redis, redis[s]://[user[:password]@]host[:port][/db]. Unset: run an embedded redis-server (development).',
  },
  redisPassword: {
    env: 'CACHEGATE_REDIS_PASSWORD',
    aliases: ['REDIS_PASSWORD'],
    secret: true,
    parse: text,
    help: 'Redis password, when it is not in the URL.',
  },
  redisSentinels: {
    env: 'CACHEGATE_REDIS_SENTINELS',
    default: '',
    parse: addressList,
    help: 'Redis behind Sentinel: host:port,host:port of the Sentinels (with CACHEGATE_REDIS_SENTINEL_MASTER).',
  },
  redisSentinelMaster: {
    env: 'CACHEGATE_REDIS_SENTINEL_MASTER',
    parse: text,
    help: 'The master name the Sentinels monitor.',
  },
  redisSentinelPassword: {
    env: 'CACHEGATE_REDIS_SENTINEL_PASSWORD',
    secret: true,
    parse: text,
    help: 'Password of the Sentinels themselves (data nodes use CACHEGATE_REDIS_PASSWORD).',
  },
  redisClusterNodes: {
    env: 'CACHEGATE_REDIS_CLUSTER_NODES',
    default: '',
    parse: addressList,
    help: 'Redis Cluster: host:port,host:port of some nodes; the rest is discovered.',
  },
  redisTls: {
    env: 'CACHEGATE_REDIS_TLS',
    default: 'false',
    parse: booleanFlag,
    help: 'Use TLS to Sentinel and Cluster nodes (a standalone URL says so with rediss://).',
  },
  redisTlsCa: {
    env: 'CACHEGATE_REDIS_TLS_CA',
    parse: text,
    help: "PEM file of the CA that signs Redis's certificate, for rediss:// (default: the system CAs).",
  },
  tlsCert: {
    env: 'CACHEGATE_TLS_CERT',
    parse: text,
    help: 'PEM certificate (chain) file: serve HTTPS instead of HTTP. Needs CACHEGATE_TLS_KEY.',
  },
  tlsKey: {
    env: 'CACHEGATE_TLS_KEY',
    parse: text,
    help: 'PEM private key file for CACHEGATE_TLS_CERT.',
  },
  readFrom: {
    env: 'CACHEGATE_READ_FROM',
    default: 'primary',
    parse: oneOf(['primary', 'replicas']),
    help: '"replicas": read-only commands go to a replica that has applied what the caller has seen (its upstash-sync-token; without one, a replica within CACHEGATE_REPLICA_MAX_LAG_MS), everything else to the primary. Replicas: CACHEGATE_REDIS_REPLICAS for standalone, the Sentinels\' or the Cluster\'s own otherwise.',
  },
  redisReplicas: {
    env: 'CACHEGATE_REDIS_REPLICAS',
    default: '',
    parse: addressList,
    help: 'With CACHEGATE_READ_FROM=replicas: host:port,host:port of the replicas to read from. Standalone: its replicas (same scheme, credentials and database as CACHEGATE_REDIS_URL); Sentinel and Cluster: only these of the replicas they announce (the nearby ones of a regional gateway); empty: all of them.',
  },
  replicaMaxLagMs: {
    env: 'CACHEGATE_REPLICA_MAX_LAG_MS',
    default: '1000',
    parse: integer(0, 3_600_000),
    help: 'A replica behind its primary by more than this (the age of the oldest write it has not applied) is skipped until it catches up; it bounds how old a read without a sync token may be.',
  },
  writeReplicas: {
    env: 'CACHEGATE_WRITE_REPLICAS',
    default: '0',
    parse: integer(0, 32),
    help: "Replicas that must confirm each write (Redis WAIT) before the gateway answers; 0: answer on the primary's reply. Standalone and Sentinel modes.",
  },
  token: {
    env: 'CACHEGATE_TOKEN',
    aliases: ['REDIS_SERVICE_API_KEY'],
    secret: true,
    parse: token,
    help: 'Read-write token (scope "write"). Generated and printed in development when unset.',
  },
  readonlyToken: {
    env: 'CACHEGATE_READONLY_TOKEN',
    secret: true,
    parse: token,
    help: 'Read-only token (scope "read").',
  },
  adminToken: {
    env: 'CACHEGATE_ADMIN_TOKEN',
    secret: true,
    parse: token,
    help: 'Admin token (scope "admin"): may also run @admin and @dangerous commands such as FLUSHALL and KEYS.',
  },
  tokensFile: {
    env: 'CACHEGATE_TOKENS_FILE',
    parse: text,
    help: 'JSON file of named tokens [{name, token|sha256, scope, redisUser?, redisPassword?, rateLimit?, database?, redisUrl?, redisUrlPassword?, redisTlsCa?}]; an entry with redisUrl sends its requests to that Redis. Reloaded on SIGHUP.',
  },
  backendIdleMs: {
    env: 'CACHEGATE_BACKEND_IDLE_MS',
    default: '300000',
    parse: integer(0),
    help: 'A tokens-file database (redisUrl) is connected on first use and closed after this long without traffic; 0: never closed. The main Redis stays connected.',
  },
  scopeUsers: {
    env: 'CACHEGATE_SCOPE_USERS',
    default: 'auto',
    parse: oneOf(['auto', 'off']),
    help: '"auto": read and write tokens run as Redis ACL users cachegate-read/-write that the gateway creates, so Redis holds scripts to their scope; "off" (or no ACL rights): scripting commands need an admin token.',
  },
  scripts: {
    env: 'CACHEGATE_SCRIPTS',
    default: 'any',
    parse: oneOf(['any', 'approved']),
    help: '"any": every token with the right scope runs any script; "approved": tokens other than the main admin run only scripts (EVAL, EVALSHA) the main admin approved, since a script that has written cannot be killed; read-only scripts (EVAL_RO) always run.',
  },
  approvedScripts: {
    env: 'CACHEGATE_APPROVED_SCRIPTS',
    default: '',
    parse: (text: string) => {
      const digests = splitList(text);
      const wrong = digests.find((digest) => !/^[0-9a-f]{40}$/i.test(digest));
      if (wrong !== undefined) throw new Error(`"${wrong}" is not a SHA-1 digest (40 hex digits)`);
      return digests;
    },
    help: 'Comma-separated SHA-1 digests of scripts approved for CACHEGATE_SCRIPTS=approved, besides those the main admin loads.',
  },
  commandTimeoutMs: {
    env: 'CACHEGATE_COMMAND_TIMEOUT_MS',
    default: '2000',
    parse: integer(10, 600_000),
    help: 'Longest wait for Redis to answer a request before it fails with 503.',
  },
  maxBodyBytes: {
    env: 'CACHEGATE_MAX_BODY_BYTES',
    default: '10485760',
    parse: integer(1024),
    help: 'Largest request body (10 MiB, at least the 10 MB Upstash documents); larger ones get 413.',
  },
  maxBufferedBodyBytes: {
    env: 'CACHEGATE_MAX_BUFFERED_BODY_BYTES',
    default: '33554432',
    parse: integer(1024),
    help: 'Request body bytes held at once per process (declared lengths of bodies being read, then what a JSON body costs parsed: its bytes plus 32 per value); requests past it wait, unread, for room; a token, or a tokens-file database, holds at most half.',
  },
  maxKeyBytes: {
    env: 'CACHEGATE_MAX_KEY_BYTES',
    default: '1024',
    parse: integer(1, 512 * 1024 * 1024),
    help: 'Longest key accepted by the cache API, in UTF-8 bytes.',
  },
  maxJsonDepth: {
    env: 'CACHEGATE_MAX_JSON_DEPTH',
    default: '512',
    parse: integer(8, 2000),
    help: 'Deepest nesting of a cache API value, and of a Redis reply passed on (deeper ones get a clear error).',
  },
  maxReplyBytes: {
    env: 'CACHEGATE_MAX_REPLY_BYTES',
    default: '16777216',
    parse: integer(1024),
    help: "Largest Redis reply passed on, per command, counting 64 bytes per value on top of its data (16 MiB: a 10 MiB value reads back); a larger one is that command's error, read and dropped without being held.",
  },
  maxAnswerBytes: {
    env: 'CACHEGATE_MAX_ANSWER_BYTES',
    default: '33554432',
    parse: integer(1024),
    help: "Largest answer to one request: its replies (counted as for CACHEGATE_MAX_REPLY_BYTES) and its encoded body (JSON escapes and base64 included). Replies past it are their commands' errors, read and dropped without being held.",
  },
  maxBufferedReplyBytes: {
    env: 'CACHEGATE_MAX_BUFFERED_REPLY_BYTES',
    default: '67108864',
    parse: integer(1024),
    help: 'Reply bytes all answers of the process hold at once, counted as for CACHEGATE_MAX_REPLY_BYTES, until each answer is sent. Past it, a reply beyond the first 64 KiB of its answer is its command\'s error ("retry shortly"), read and dropped without being held.',
  },
  sendTimeoutMs: {
    env: 'CACHEGATE_SEND_TIMEOUT_MS',
    default: '30000',
    parse: integer(100),
    help: 'Longest a client may leave part of an answer unread (each time the gateway waits for it); past it the connection closes and what it held is freed.',
  },
  maxPipeline: {
    env: 'CACHEGATE_MAX_PIPELINE',
    default: '1000',
    parse: integer(1),
    help: 'Most commands in one /pipeline or /multi-exec request.',
  },
  maxMonitors: {
    env: 'CACHEGATE_MAX_MONITORS',
    default: '2',
    parse: integer(0, 1000),
    help: 'Most POST /monitor streams open at once per process (each is a Redis MONITOR, which costs Redis throughput); past it, 503. 0: off.',
  },
  nearCache: {
    env: 'CACHEGATE_NEAR_CACHE',
    default: 'off',
    parse: oneOf(['on', 'off']),
    help: 'on: answer repeated reads (GET, MGET, HGET, EXISTS, ...) from gateway memory, kept coherent by Redis client tracking.',
  },
  nearCacheMaxBytes: {
    env: 'CACHEGATE_NEAR_CACHE_MAX_BYTES',
    default: '67108864',
    parse: integer(1024),
    help: 'Memory the near cache may hold per process, bookkeeping included; least recently used entries go first.',
  },
  nearCachePrefixes: {
    env: 'CACHEGATE_NEAR_CACHE_PREFIXES',
    default: '',
    parse: splitList,
    help: 'Comma-separated key prefixes the near cache keeps; empty: every key.',
  },
  hotKeys: {
    env: 'CACHEGATE_HOT_KEYS',
    default: '1000',
    parse: integer(0, 100_000),
    help: 'Keys the hot set follows per database and process (a top-K sketch of the keys read most; GET /v1/admin/hot-keys, cachegate hot-keys), saved in Redis every minute for the warm start. 0: off.',
  },
  warmStartMs: {
    env: 'CACHEGATE_WARM_START_MS',
    default: '5000',
    parse: integer(0, 600_000),
    help: 'With the near cache on, how long a starting process may spend filling it with the saved hot set (at most half of CACHEGATE_NEAR_CACHE_MAX_BYTES) before it listens. 0: start cold.',
  },
  shutdownGraceMs: {
    env: 'CACHEGATE_SHUTDOWN_GRACE_MS',
    default: '10000',
    parse: integer(0),
    help: 'On SIGTERM/SIGINT, how long in-flight requests may take to finish.',
  },
  rateLimit: {
    env: 'CACHEGATE_RATE_LIMIT',
    default: '',
    parse: (text: string) => {
      if (text === '' || text === 'off') return undefined;
      const rule = parseRateLimit(text);
      if (typeof rule === 'string') throw new Error(rule);
      return rule;
    },
    help: 'Requests per token, <count>/<window> (100/1s, 6000/1m). Tokens-file entries may override. Empty: off.',
  },
  rateLimitStore: {
    env: 'CACHEGATE_RATE_LIMIT_STORE',
    default: 'memory',
    parse: oneOf(['memory', 'redis']),
    help: '"memory" counts per process; "redis" shares the limit across gateway replicas through Redis.',
  },
  maxConnections: {
    env: 'CACHEGATE_MAX_CONNECTIONS',
    default: '10000',
    parse: integer(1),
    help: "Client connections open at once per process; past it, new ones are closed at once. Held below the process's open-file limit, so that idle clients cannot take the descriptors Redis connections need.",
  },
  maxStreamChannels: {
    env: 'CACHEGATE_MAX_STREAM_CHANNELS',
    default: '100',
    parse: integer(1, 10_000),
    help: 'Most channels or patterns one /subscribe or /psubscribe stream may name; more get 400.',
  },
  maxStreams: {
    env: 'CACHEGATE_MAX_STREAMS',
    default: '1000',
    parse: integer(1),
    help: 'Open /subscribe, /psubscribe and /monitor streams per process; past it, new ones get 503 + Retry-After. Streams do not count against CACHEGATE_MAX_IN_FLIGHT.',
  },
  maxInFlight: {
    env: 'CACHEGATE_MAX_IN_FLIGHT',
    default: '5000',
    parse: integer(1),
    help: 'Requests in flight per process; past it, new requests get 503 + Retry-After at once.',
  },
  maxEventLoopDelayMs: {
    env: 'CACHEGATE_MAX_EVENT_LOOP_DELAY_MS',
    default: '500',
    parse: integer(0),
    help: 'Event-loop delay (p99 over 0.5 s) past which requests of tokens that already have one in flight get 503 + Retry-After. 0: off.',
  },
  requestTimeoutMs: {
    env: 'CACHEGATE_REQUEST_TIMEOUT_MS',
    default: '30000',
    parse: integer(1000),
    help: 'Longest time to receive a whole request (headers and body) before 408.',
  },
  keepAliveTimeoutMs: {
    env: 'CACHEGATE_KEEP_ALIVE_TIMEOUT_MS',
    default: '650000',
    parse: integer(1000),
    help: "Idle keep-alive connections close after this; longer than load balancers' idle timeouts (GCP 600 s, AWS 60 s).",
  },
  metricsPort: {
    env: 'CACHEGATE_METRICS_PORT',
    parse: integer(0, 65535),
    help: 'Serve /metrics on this port, without a token, instead of on the main port with the main admin token.',
  },
  workers: {
    env: 'CACHEGATE_WORKERS',
    default: '1',
    parse: (text: string) => (text === 'auto' ? availableParallelism() : integer(1, 256)(text)),
    help: 'Gateway processes sharing the port (node:cluster); "auto" = one per available core.',
  },
  corsOrigins: {
    env: 'CACHEGATE_CORS_ORIGINS',
    default: '',
    parse: splitList,
    help: 'Comma-separated browser origins allowed by CORS, or "*". Empty: CORS off.',
  },
  logLevel: {
    env: 'CACHEGATE_LOG_LEVEL',
    default: 'info',
    parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    help: 'Log level. Request lines are "debug" (health probes and scrapes "trace"); 5xx answers and slow requests "warn".',
  },
  slowRequestMs: {
    env: 'CACHEGATE_SLOW_REQUEST_MS',
    default: '1000',
    parse: integer(0),
    help: 'A request answered after this long is logged at "warn" whatever the log level allows; 0: none is.',
  },
  logFormat: {
    env: 'CACHEGATE_LOG_FORMAT',
    default: 'auto',
    parse: oneOf(['auto', 'json', 'pretty']),
    help: '"json": one JSON object per line; "pretty": one readable line per entry; "auto": pretty when stdout is a terminal, else JSON.',
  },
  dataDir: {
    env: 'CACHEGATE_DATA_DIR',
    default: '.cachegate',
    parse: text,
    help: 'Where the embedded development Redis keeps its data (redis/ below it).',
  },
  nodeEnv: {
    env: 'NODE_ENV',
    default: 'development',
    parse: String,
    help: '"production" refuses to start without a token or without a Redis backend (REDIS_URL, Sentinels or Cluster nodes): the embedded Redis and the generated token are for development.',
  },
} satisfies Record<string, Variable>;

// Parsers: each reads the text of one variable and throws an Error whose message says what is expected.

function integer(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const value = Number(text.trim());
    if (!/^\s*-?\d+\s*$/.test(text)) throw new Error('must be a whole number');
    if (value < min || value > max) {
      throw new Error(
        max === Number.MAX_SAFE_INTEGER ? `must be at least ${min}` : `must be between ${min} and ${max}`,
      );
    }
    return value;
  };
}

function oneOf<const T extends string>(values: readonly T[]): (text: string) => T {
  return (text) => {
    if (!(values as readonly string[]).includes(text)) throw new Error(`must be one of ${values.join(', ')}`);
    return text as T;
  };
}

function text(value: string): string {
  if (value.trim() === '') throw new Error('must not be blank');
  return value;
}

function token(value: string): string {
  if (value.length < 16) throw new Error('must be at least 16 characters');
  return value;
}

function redisUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('must be a redis:// or rediss:// URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new Error('must be a redis:// or rediss:// URL');
  return value;
}

/** `host:port,host:port` (IPv6 hosts in brackets) -> addresses. */
function addressList(value: string): { host: string; port: number }[] {
  return splitList(value).map((item) => {
    const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(item);
    const port = Number(match?.[2]);
    if (match === null || port < 1 || port > 65535) throw new Error(`"${item}" is not host:port`);
    return { host: match[1] as string, port };
  });
}

function booleanFlag(value: string): boolean {
  const lower = value.toLowerCase();
  if (!['true', 'false', '1', '0', 'yes', 'no'].includes(lower)) throw new Error('must be true or false');
  return ['true', '1', 'yes'].includes(lower);
}

interface Variable {
  env: string;
  aliases?: string[];
  /** Parsed when the variable is unset; without one, unset means undefined. */
  default?: string;
  secret?: boolean;
  parse: (text: string) => unknown;
  help: string;
}

type Variables = typeof VARIABLES;

/** The gateway's settings, validated. Each field is documented in `cachegate --help` and the README. */
export type Config = {
  [K in keyof Variables]: Variables[K] extends { default: string }
    ? ReturnType<Variables[K]['parse']>
    : ReturnType<Variables[K]['parse']> | undefined;
};

/** Thrown by {@link loadConfig} with every problem found, each naming its variable. */
export class ConfigError extends Error {
  readonly code = 'CG_ERR_CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads and validates the configuration from an environment-like record. Empty values count as unset.
 *
 * @throws {ConfigError} listing every invalid or conflicting variable at once.
 * @example
 * const config = loadConfig(process.env);
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(VARIABLES) as [string, Variable][]) {
    const raw = readVariable(env, variable, problems);
    const given = raw ?? variable.default;
    try {
      config[key] = given === undefined ? undefined : variable.parse(given);
    } catch (error) {
      const shown = variable.secret ? '(hidden)' : JSON.stringify(raw);
      problems.push(`${variable.env}=${shown}: ${(error as Error).message}`);
    }
  }
  if (problems.length === 0) problems.push(...combinationProblems(config as Config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config as Config;
}

/** Settings that are valid one by one but not together. */
function combinationProblems(config: Config): string[] {
  const problems: string[] = [];
  const modes = [
    config.redisUrl !== undefined && 'CACHEGATE_REDIS_URL',
    config.redisSentinels.length > 0 && 'CACHEGATE_REDIS_SENTINELS',
    config.redisClusterNodes.length > 0 && 'CACHEGATE_REDIS_CLUSTER_NODES',
  ].filter(Boolean);
  if (modes.length > 1) problems.push(`${modes.join(' and ')} are both set: choose one Redis backend`);
  if (config.redisSentinels.length > 0 && config.redisSentinelMaster === undefined) {
    problems.push(
      'CACHEGATE_REDIS_SENTINELS needs CACHEGATE_REDIS_SENTINEL_MASTER, the monitored master name',
    );
  }
  if (config.redisReplicas.length > 0 && config.readFrom !== 'replicas') {
    problems.push('CACHEGATE_REDIS_REPLICAS needs CACHEGATE_READ_FROM=replicas, or the replicas go unused');
  }
  if (config.writeReplicas > 0 && config.redisClusterNodes.length > 0) {
    problems.push('CACHEGATE_WRITE_REPLICAS is not supported with CACHEGATE_REDIS_CLUSTER_NODES');
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    problems.push('CACHEGATE_TLS_CERT and CACHEGATE_TLS_KEY go together: set both or neither');
  }
  return problems;
}

/** True when a Redis backend (URL, Sentinels or Cluster nodes) is configured; otherwise main runs the embedded one. */
export function hasRedisBackend(config: Config): boolean {
  return (
    config.redisUrl !== undefined || config.redisSentinels.length > 0 || config.redisClusterNodes.length > 0
  );
}

function readVariable(env: Record<string, string | undefined>, variable: Variable, problems: string[]) {
  const set = [variable.env, ...(variable.aliases ?? [])].filter((name) => nonEmpty(env[name]));
  const values = new Set(set.map((name) => env[name]));
  if (values.size > 1) {
    problems.push(`${set.join(' and ')} are both set, to different values: set only ${variable.env}`);
  }
  const first = set[0];
  return first === undefined ? undefined : env[first];
}

const nonEmpty = (value: string | undefined): value is string => value !== undefined && value !== '';

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** The text of `cachegate --help`: every variable, its aliases and its default. */
export function configHelp(): string {
  const rows = Object.values(VARIABLES as Record<string, Variable>).map((v) => {
    const names = [v.env, ...(v.aliases ?? [])].join(', ');
    const fallback = v.default === undefined || v.default === '' ? '' : ` (default: ${v.default})`;
    return `  ${names}\n      ${v.help}${fallback}`;
  });
  return rows.join('\n');
}

/** Every variable name, canonical names first then aliases (for docs checks). */
export function configVariableNames(): string[] {
  return Object.values(VARIABLES as Record<string, Variable>).flatMap((v) => [v.env, ...(v.aliases ?? [])]);
}

/** Maps a command-line flag such as `--redis-url` to its variable name (`CACHEGATE_REDIS_URL`). */
export function variableForFlag(flag: string): string | undefined {
  const wanted = flag.replace(/^--/, '').toUpperCase().replaceAll('-', '_');
  for (const v of Object.values(VARIABLES as Record<string, Variable>)) {
    if (v.env === wanted || v.env === `CACHEGATE_${wanted}`) return v.env;
  }
  return undefined;
}
