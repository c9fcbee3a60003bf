import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValueWithName,
  Registry,
} from 'prom-client';
import type { ExecutorObserver } from './core/executor.js';
import type { ErrorCode } from './errors.js';
import { nearCachesOf, type RedisBackend } from './redis/backend.js';
import { DATABASE_STATUSES, type DatabaseStatus } from './redis/databases.js';
import type { NearCache } from './redis/near-cache.js';
import type { NearCacheStats } from './redis/near-cache-store.js';
import type { NodeStatus } from './redis/topology/shard.js';

/** One series of a {@link FastHistogram}: its labels, and counts per bucket (the last is +Inf). */
interface Series {
  readonly labels: Record<string, string>;
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * A prom-client histogram whose series are plain arrays held by the caller, so that an observation is an
 * array increment rather than prom-client's label validation and hashing on every call (8 % of the CPU
 * of a 100-command pipeline), and N observations of one value cost one. It exports exactly what a
 * prom-client histogram does: `_bucket` (cumulative, with `le`), `_sum` and `_count`.
 */
class FastHistogram<T extends string> extends Histogram<T> {
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series>();
  readonly #name: string;
  readonly #help: string;

  constructor(options: {
    name: string;
    help: string;
    labelNames: T[];
    buckets: number[];
    registers: Registry[];
  }) {
    super(options);
    this.#bounds = options.buckets;
    this.#name = options.name;
    this.#help = options.help;
  }

  /** The series of these label values, created on first use; keep it, and observe through it. */
  series(labels: Record<T, string>): Series {
    const id = JSON.stringify(labels);
    let series = this.#series.get(id);
    if (series === undefined) {
      series = { labels, counts: new Array(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.#series.set(id, series);
    }
    return series;
  }

  /** Records `times` observations of `value`. */
  observeInto(series: Series, value: number, times = 1): void {
    const bounds = this.#bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++;
    series.counts[bucket] = (series.counts[bucket] as number) + times;
    series.sum += value * times;
    series.count += times;
  }

  /** Every series' count, for a counter that reports the same events. */
  counts(): { labels: Record<string, string>; value: number }[] {
    return [...this.#series.values()].map((series) => ({ labels: series.labels, value: series.count }));
  }

  /**
   * The metric as prom-client exports it. The registry's text output reads `getForPromString()` and its
   * JSON (worker aggregation) reads `get()`; both are answered from these series.
   */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    type Labels = MetricValueWithName<T>['labels'];
    const values: MetricValueWithName<T>[] = [];
    for (const series of this.#series.values()) {
      const labels = series.labels as Labels;
      let cumulative = 0;
      series.counts.forEach((count, i) => {
        cumulative += count;
        const le = i < this.#bounds.length ? (this.#bounds[i] as number) : '+Inf';
        values.push({
          labels: { ...labels, le } as Labels,
          value: cumulative,
          metricName: `${this.#name}_bucket`,
        });
      });
      values.push({ labels, value: series.sum, metricName: `${this.#name}_sum` });
      values.push({ labels, value: series.count, metricName: `${this.#name}_count` });
    }
    // prom-client's typings call `type` an enum; at run time it is the Prometheus type name.
    const metric = { name: this.#name, help: this.#help, type: 'histogram', aggregator: 'sum', values };
    return metric as unknown as MetricObjectWithValues<MetricValueWithName<T>>;
  }

  override get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    return this.getForPromString();
  }

  override reset(): void {
    // prom-client's constructor resets the metric before this class's fields exist.
    if (!(#series in this)) {
      super.reset();
      return;
    }
    for (const series of this.#series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}

/**
 * What a connection's previous request said in its telemetry headers, and the series it was counted in:
 * a client sends the same values on every request, so the next one costs three string comparisons.
 */
export interface TelemetryMemo {
  sdk?: string | undefined;
  runtime?: string | undefined;
  platform?: string | undefined;
  series?: { count: number } | undefined;
}

/** Distinct values per label of `cachegate_client_sdk_requests_total`; further ones count as `other`. */
const MAX_SDK_VALUES = { sdk: 16, runtime: 16, platform: 8 } as const;
/** Distinct label sets of it; further ones count in the all-`other` series. */
const MAX_SDK_SERIES = 64;

/**
 * `@upstash/redis@v1.39.0` -> `@upstash/redis@1.39`. The SDK joins the values of several packages with
 * commas (`@upstash/ratelimit` adds its own), so each part is cut to name and major.minor.
 */
function sdkLabel(value: string): string {
  let label = '';
  for (const part of value.split(',', 4)) {
    const match = /^\s*(@?[\w.-]{1,40}(?:\/[\w.-]{1,40})?)@v?(\d{1,4})\.(\d{1,4})/.exec(part);
    label += `${label === '' ? '' : ','}${match === null ? 'other' : `${match[1]}@${match[2]}.${match[3]}`}`;
  }
  return label.toLowerCase();
}

/** `node@v20.20.2` -> `node@20`; `edge-light` as it is. */
function runtimeLabel(value: string): string {
  const match = /^\s*([a-z][\w.-]{0,31})(?:@v?(\d{1,4}))?/i.exec(value);
  if (match === null) return 'other';
  return (match[2] === undefined ? match[1] : `${match[1]}@${match[2]}`)?.toLowerCase() ?? 'other';
}

/** `vercel`, `aws`, `cloudflare`, ...: a short word, or `other`. */
function platformLabel(value: string): string {
  return /^[a-z][\w.-]{0,31}$/i.test(value) ? value.toLowerCase() : 'other';
}

/** Why a request was turned away, for `cachegate_requests_rejected_total{reason}`. */
export type RejectionReason = 'auth' | 'policy' | 'rate_limit' | 'overload';

const REJECTIONS: Partial<Record<ErrorCode, RejectionReason>> = {
  CG_ERR_AUTH_MISSING: 'auth',
  CG_ERR_AUTH_INVALID: 'auth',
  CG_ERR_COMMAND_DENIED: 'policy',
  CG_ERR_RATE_LIMITED: 'rate_limit',
  CG_ERR_OVERLOADED: 'overload',
  CG_ERR_MONITOR_LIMIT_REACHED: 'overload',
};

/**
 * Every metric the gateway exports. Label values stay bounded: route patterns (never raw URLs), command
 * names from the server's command table, status codes and fixed reasons; never keys or tokens.
 */
export class GatewayMetrics implements ExecutorObserver {
  readonly registry = new Registry();
  readonly #httpDuration = new FastHistogram({
    name: 'cachegate_http_request_duration_seconds',
    help: 'Time from request to response, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly #commandDuration = new FastHistogram({
    name: 'cachegate_redis_command_duration_seconds',
    help: 'Time from sending a command to Redis to its reply, by command (pipelined commands: their batch round trip; MULTI/EXEC blocks as "multi") and database ("default" for the main Redis, else the tokens-file database name)',
    labelNames: ['command', 'database'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly #cacheHits = new Counter({
    name: 'cachegate_cache_hits_total',
    help: 'Keys found by GET and MGET (cache API reads included)',
    registers: [this.registry],
  });
  readonly #cacheMisses = new Counter({
    name: 'cachegate_cache_misses_total',
    help: 'Keys not found by GET and MGET (cache API reads included)',
    registers: [this.registry],
  });
  readonly #rejected = new Counter({
    name: 'cachegate_requests_rejected_total',
    help: 'Requests turned away before reaching Redis, by reason: auth, policy, rate_limit, overload',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly redisUp = new Gauge({
    name: 'cachegate_redis_up',
    help: '1 while the shared Redis connection is up, 0 while it is down',
    registers: [this.registry],
    // Summed over CACHEGATE_WORKERS it would count workers; the minimum says whether all are connected.
    aggregator: 'min',
  });
  readonly redisReconnects = new Counter({
    name: 'cachegate_redis_reconnects_total',
    help: 'Attempts to reconnect to Redis after losing the connection',
    registers: [this.registry],
  });
  /** Series of `cachegate_client_sdk_requests_total`, by `sdk runtime platform` label values. */
  readonly #sdkSeries = new Map<string, { labels: Record<string, string>; count: number }>();
  /** Label values seen so far, per label, within MAX_SDK_VALUES. */
  readonly #sdkValues = { sdk: new Set<string>(), runtime: new Set<string>(), platform: new Set<string>() };
  /** Series of the command histogram, by database then command name, so the hot path does no label lookups. */
  readonly #commandSeries = new Map<string, Map<string, Series>>();
  /** Series of the HTTP histogram, by route, then `method status`. */
  readonly #requestSeries = new Map<string, Map<string, Series>>();

  /** Watches `backend` for `cachegate_redis_up` and reconnects; `inFlight` feeds the in-flight gauge. */
  constructor(backend: RedisBackend, inFlight: () => number) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'cachegate_http_requests_in_flight',
      help: 'Authenticated requests received and not yet answered (streams excluded)',
      registers: [this.registry],
      collect() {
        this.set(inFlight());
      },
    });
    const requests = this.#httpDuration;
    // The same events as the duration histogram's _count, so it reads them from there.
    new Counter({
      name: 'cachegate_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { labels, value } of requests.counts()) this.inc(labels, value);
      },
    });
    const sdkSeries = this.#sdkSeries;
    new Counter({
      name: 'cachegate_client_sdk_requests_total',
      help: 'Authenticated requests by the Upstash-Telemetry-Sdk/-Runtime/-Platform headers the Upstash SDKs send: sdk name@major.minor, runtime name@major, platform; bounded, unusual or surplus values count as "other", absent ones as "none"',
      labelNames: ['sdk', 'runtime', 'platform'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { labels, count } of sdkSeries.values()) this.inc(labels, count);
      },
    });
    for (const reason of Object.values(REJECTIONS)) this.#rejected.inc({ reason }, 0);
    backend.on('up', () => this.redisUp.set(1));
    backend.on('down', () => this.redisUp.set(0));
    backend.on('reconnecting', () => this.redisReconnects.inc());
    this.redisUp.set(backend.isReady ? 1 : 0);
  }

  /**
   * Exports the near caches of `backend` (the main Redis: one, or one per Cluster master; for Sentinel,
   * the current master's), summed, and the single-flight count of `reads`.
   */
  observeReads(backend: RedisBackend, reads: { readonly coalesced: number }): void {
    const registers = [this.registry];
    const sum = (read: (cache: NearCache) => number) =>
      nearCachesOf(backend).reduce((total, cache) => total + read(cache), 0);
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    const stats = (name: keyof NearCacheStats) => () => sum((cache) => cache.store.stats[name]);
    counter('cachegate_near_cache_hits_total', 'Reads answered from the near cache', stats('hits'));
    counter(
      'cachegate_near_cache_misses_total',
      'Cacheable reads the near cache did not hold',
      stats('misses'),
    );
    counter(
      'cachegate_near_cache_invalidations_total',
      'Entries dropped because Redis invalidated their keys (flushes count every entry)',
      stats('invalidations'),
    );
    counter(
      'cachegate_near_cache_evictions_total',
      'Entries dropped to stay within CACHEGATE_NEAR_CACHE_MAX_BYTES',
      stats('evictions'),
    );
    counter(
      'cachegate_coalesced_reads_total',
      'Reads that waited for an identical read in flight instead of being sent to Redis',
      () => reads.coalesced,
    );
    new Gauge({
      name: 'cachegate_near_cache_bytes',
      help: 'Bytes the near cache holds, bookkeeping included',
      registers,
      collect() {
        this.set(sum((cache) => cache.store.bytes));
      },
    });
    new Gauge({
      name: 'cachegate_near_cache_tracking_live',
      help: '1 while Redis client tracking keeps every near cache coherent (entries are served only then)',
      registers,
      collect() {
        const caches = nearCachesOf(backend);
        this.set(caches.length > 0 && caches.every((cache) => cache.isLive) ? 1 : 0);
      },
    });
  }

  /**
   * Exports every node of the main Redis by role (decision 0021): whether it is up (a replica: usable for
   * reads), a replica's lag in bytes and seconds, and the read-only batches each took.
   */
  observeNodes(backend: RedisBackend): void {
    const registers = [this.registry];
    const labelNames = ['node', 'role', 'shard'] as const;
    const gauge = (name: string, help: string, value: (node: NodeStatus) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const node of backend.nodes()) {
            const measured = value(node);
            if (measured !== undefined)
              this.set({ node: node.address, role: node.role, shard: node.shard }, measured);
          }
        },
      });
    gauge(
      'cachegate_redis_node_up',
      'Each node of the main Redis by role (primary, replica) and shard: 1 while usable (a replica: connected, linked to its primary and within CACHEGATE_REPLICA_MAX_LAG_MS), else 0',
      (node) => (node.isUp ? 1 : 0),
    );
    gauge(
      'cachegate_redis_replica_lag_bytes',
      "Replication bytes a replica has not applied yet (its primary's offset minus its own, as last asked)",
      (node) => node.lagBytes,
    );
    gauge(
      'cachegate_redis_replica_lag_seconds',
      'How long a replica has been missing the oldest write it has not applied (0: caught up)',
      (node) => node.lagSeconds,
    );
    new Counter({
      name: 'cachegate_redis_reads_total',
      help: "Read-only batches sent to each node with CACHEGATE_READ_FROM=replicas (a primary's: those no replica could take, being behind the caller's sync token, lagging or down)",
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const node of backend.nodes())
          this.inc({ node: node.address, role: node.role, shard: node.shard }, node.reads);
      },
    });
  }

  /** Exports the state of each tokens-file database, by name, as `cachegate_database_state`. */
  observeDatabases(statuses: () => { name: string; status: DatabaseStatus }[]): void {
    new Gauge({
      name: 'cachegate_database_state',
      help: 'Tokens-file databases (redisUrl) by name: 1 for the state each is in (idle, connecting, up, down), 0 for the others; summed over CACHEGATE_WORKERS it counts workers',
      labelNames: ['database', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { name, status } of statuses()) {
          for (const state of DATABASE_STATUSES)
            this.set({ database: name, state }, state === status ? 1 : 0);
        }
      },
    });
  }

  /** Client connections open now. */
  observeConnections(open: () => number): void {
    new Gauge({
      name: 'cachegate_http_connections',
      help: 'Client connections open (HTTPS: past the handshake), capped by CACHEGATE_MAX_CONNECTIONS',
      registers: [this.registry],
      collect() {
        this.set(open());
      },
    });
  }

  /** Request body bytes reserved and answer bytes held: both back to 0 whenever the gateway is idle. */
  observeBudgets(bodyBytes: () => number, answerBytes: () => number): void {
    new Gauge({
      name: 'cachegate_body_bytes_reserved',
      help: 'Request body bytes reserved under CACHEGATE_MAX_BUFFERED_BODY_BYTES',
      registers: [this.registry],
      collect() {
        this.set(bodyBytes());
      },
    });
    new Gauge({
      name: 'cachegate_answer_bytes_held',
      help: 'Reply bytes held for answers under CACHEGATE_MAX_BUFFERED_REPLY_BYTES (64 bytes per value counted on top of its data)',
      registers: [this.registry],
      collect() {
        this.set(answerBytes());
      },
    });
  }

  /** Exports `open()`, the channels and patterns subscribed on Redis for open streams. */
  observeSubscriptions(open: () => number): void {
    new Gauge({
      name: 'cachegate_redis_subscriptions',
      help: 'Channels and patterns the gateway holds subscribed on Redis for open /subscribe and /psubscribe streams',
      registers: [this.registry],
      collect() {
        this.set(open());
      },
    });
  }

  /** Exports `open()`, every stream open now (subscriptions and MONITOR), as `cachegate_streams_open`. */
  observeStreams(open: () => number): void {
    new Gauge({
      name: 'cachegate_streams_open',
      help: 'Server-sent event streams open (/subscribe, /psubscribe, /monitor), capped by CACHEGATE_MAX_STREAMS; not counted in cachegate_http_requests_in_flight',
      registers: [this.registry],
      collect() {
        this.set(open());
      },
    });
  }

  /** Exports `open()`, the MONITOR streams open now, as `cachegate_monitor_streams`. */
  observeMonitors(open: () => number): void {
    new Gauge({
      name: 'cachegate_monitor_streams',
      help: 'POST /monitor streams open (each holds a Redis connection in MONITOR mode)',
      registers: [this.registry],
      collect() {
        this.set(open());
      },
    });
  }

  commandCompleted(command: string, seconds: number, count: number, database: string): void {
    let byCommand = this.#commandSeries.get(database);
    if (byCommand === undefined) {
      byCommand = new Map();
      this.#commandSeries.set(database, byCommand);
    }
    let series = byCommand.get(command);
    if (series === undefined) {
      series = this.#commandDuration.series({ command, database });
      byCommand.set(command, series);
    }
    this.#commandDuration.observeInto(series, seconds, count);
  }

  cacheLookups(hits: number, misses: number): void {
    if (hits > 0) this.#cacheHits.inc(hits);
    if (misses > 0) this.#cacheMisses.inc(misses);
  }

  requestCompleted(route: string, method: string, status: number, seconds: number): void {
    let byRoute = this.#requestSeries.get(route);
    if (byRoute === undefined) {
      byRoute = new Map();
      this.#requestSeries.set(route, byRoute);
    }
    // Method and status are few: one short key per request, no object.
    const id = method + status;
    let series = byRoute.get(id);
    if (series === undefined) {
      series = this.#httpDuration.series({ route, method, status: String(status) });
      byRoute.set(id, series);
    }
    this.#httpDuration.observeInto(series, seconds);
  }

  /**
   * Counts a request by its `Upstash-Telemetry-*` headers, when it has any. `memo` is its connection's:
   * while the values are those of the previous request, which is the rule, the count is one increment;
   * new values are normalized and looked up once.
   */
  clientRequest(
    memo: TelemetryMemo,
    sdk: string | undefined,
    runtime: string | undefined,
    platform: string | undefined,
  ): void {
    // A fresh memo holds no values: it matches a request without telemetry headers, which is not counted.
    if (sdk !== memo.sdk || runtime !== memo.runtime || platform !== memo.platform) {
      memo.sdk = sdk;
      memo.runtime = runtime;
      memo.platform = platform;
      memo.series =
        sdk === undefined && runtime === undefined && platform === undefined
          ? undefined
          : this.#clientSeries(sdk, runtime, platform);
    }
    if (memo.series !== undefined) memo.series.count++;
  }

  #clientSeries(sdk: string | undefined, runtime: string | undefined, platform: string | undefined) {
    const labels = {
      sdk: this.#boundedValue('sdk', sdk === undefined ? 'none' : sdkLabel(sdk)),
      runtime: this.#boundedValue('runtime', runtime === undefined ? 'none' : runtimeLabel(runtime)),
      platform: this.#boundedValue('platform', platform === undefined ? 'none' : platformLabel(platform)),
    };
    let id = `${labels.sdk} ${labels.runtime} ${labels.platform}`;
    if (!this.#sdkSeries.has(id) && this.#sdkSeries.size >= MAX_SDK_SERIES) {
      labels.sdk = labels.runtime = labels.platform = 'other';
      id = 'other other other';
    }
    let series = this.#sdkSeries.get(id);
    if (series === undefined) {
      series = { labels, count: 0 };
      this.#sdkSeries.set(id, series);
    }
    return series;
  }

  /** `value`, if it is among the first MAX_SDK_VALUES[label] values seen (or a fixed one), else `other`. */
  #boundedValue(label: keyof typeof MAX_SDK_VALUES, value: string): string {
    if (value === 'none' || value === 'other') return value;
    const seen = this.#sdkValues[label];
    if (seen.has(value)) return value;
    if (seen.size >= MAX_SDK_VALUES[label]) return 'other';
    seen.add(value);
    return value;
  }

  /** Counts a request answered with a catalog error, when that error is a rejection. */
  errorAnswered(code: ErrorCode): void {
    const reason = REJECTIONS[code];
    if (reason !== undefined) this.#rejected.inc({ reason });
  }
}
