import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorCode } from './errors.js';
import type { RedisBackend } from './redis/backend.js';
import type { ExecutorObserver } from './redis/executor.js';

type HttpLabel = 'route' | 'method' | 'status';

/** Why a request was turned away, for `cachegate_requests_rejected_total{reason}`. */
export type RejectionReason = 'auth' | 'policy' | 'rate_limit' | 'overload';

const REJECTIONS: Partial<Record<ErrorCode, RejectionReason>> = {
  CG_ERR_AUTH_MISSING: 'auth',
  CG_ERR_AUTH_INVALID: 'auth',
  CG_ERR_COMMAND_DENIED: 'policy',
  CG_ERR_RATE_LIMITED: 'rate_limit',
  CG_ERR_OVERLOADED: 'overload',
};

/**
 * Every metric the gateway exports. Label values stay bounded: route patterns (never raw URLs), command
 * names from the server's command table, status codes and fixed reasons; never keys or tokens.
 */
export class GatewayMetrics implements ExecutorObserver {
  readonly registry = new Registry();
  readonly #httpRequests = new Counter({
    name: 'cachegate_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [this.registry],
  });
  readonly #httpDuration = new Histogram({
    name: 'cachegate_http_request_duration_seconds',
    help: 'Time from request to response, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly #commandDuration = new Histogram({
    name: 'cachegate_redis_command_duration_seconds',
    help: 'Time from sending a command to Redis to its reply, by command (pipelined commands: their batch round trip; MULTI/EXEC blocks as "multi")',
    labelNames: ['command'],
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
  /** Children of the command histogram, cached so the hot path does no label lookups. */
  readonly #commandTimers = new Map<string, Histogram.Internal<'command'>>();
  /** The same for the HTTP metrics, keyed by route, method and status. */
  readonly #requestSeries = new Map<
    string,
    { count: Counter.Internal; duration: Histogram.Internal<HttpLabel> }
  >();

  /** Watches `backend` for `cachegate_redis_up` and reconnects; `inFlight` feeds the in-flight gauge. */
  constructor(backend: RedisBackend, inFlight: () => number) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'cachegate_http_requests_in_flight',
      help: 'Requests received and not yet answered',
      registers: [this.registry],
      collect() {
        this.set(inFlight());
      },
    });
    for (const reason of Object.values(REJECTIONS)) this.#rejected.inc({ reason }, 0);
    backend.on('up', () => this.redisUp.set(1));
    backend.on('down', () => this.redisUp.set(0));
    backend.on('reconnecting', () => this.redisReconnects.inc());
    this.redisUp.set(backend.isReady ? 1 : 0);
  }

  commandCompleted(command: string, seconds: number): void {
    let timer = this.#commandTimers.get(command);
    if (timer === undefined) {
      timer = this.#commandDuration.labels(command);
      this.#commandTimers.set(command, timer);
    }
    timer.observe(seconds);
  }

  cacheLookups(hits: number, misses: number): void {
    if (hits > 0) this.#cacheHits.inc(hits);
    if (misses > 0) this.#cacheMisses.inc(misses);
  }

  requestCompleted(route: string, method: string, status: number, seconds: number): void {
    const id = `${route} ${method} ${status}`;
    let series = this.#requestSeries.get(id);
    if (series === undefined) {
      const labels = { route, method, status: String(status) };
      series = { count: this.#httpRequests.labels(labels), duration: this.#httpDuration.labels(labels) };
      this.#requestSeries.set(id, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }

  /** Counts a request answered with a catalog error, when that error is a rejection. */
  errorAnswered(code: ErrorCode): void {
    const reason = REJECTIONS[code];
    if (reason !== undefined) this.#rejected.inc({ reason });
  }
}
