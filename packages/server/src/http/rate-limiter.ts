import type { Principal } from '../auth/principal.js';
import type { CommandExecutor } from '../core/executor.js';
import { type GatewayError, gatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RateLimitRule } from '../rate-limit-rule.js';
import type { RequestContext } from './context.js';

/** Counts requests in fixed windows. */
interface RateLimitStore {
  /** Adds one request to `key`'s window number `window` and returns the window's count so far. */
  hit(key: string, window: number, rule: RateLimitRule): Promise<number> | number;
}

/** Counts in this process only. */
class MemoryStore implements RateLimitStore {
  readonly #windows = new Map<string, { window: number; count: number }>();

  hit(key: string, window: number): number {
    const entry = this.#windows.get(key);
    if (entry === undefined || entry.window !== window) {
      // One entry per key, replaced when its window passes: memory stays bounded by the number of tokens.
      this.#windows.set(key, { window, count: 1 });
      return 1;
    }
    return ++entry.count;
  }
}

/**
 * INCR the window's counter, giving it an expiry when it is created; atomic, so replicas share one count.
 * A counter that is no integer (the keys are in reach of write tokens, see docs/operations.md) answers -1,
 * and gets an expiry so that it heals with its window.
 */
const HIT_SCRIPT =
  "local n = redis.pcall('INCR', KEYS[1]) " +
  "if type(n) ~= 'number' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) return -1 end " +
  "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n";

/** Counts in Redis, so every gateway replica in front of it enforces one shared limit. */
class RedisStore implements RateLimitStore {
  constructor(private readonly executor: CommandExecutor) {}

  async hit(key: string, window: number, rule: RateLimitRule): Promise<number> {
    const [reply] = await this.executor.runAsGateway([
      ['EVAL', HIT_SCRIPT, '1', `cachegate:ratelimit:${key}:${window}`, String(rule.windowMs * 2)],
    ]);
    if (typeof reply !== 'number') throw new Error(`the rate-limit script answered ${String(reply)}`);
    // A spoiled counter fails closed: spoiling one's own must not lift one's limit.
    return reply === -1 ? Number.POSITIVE_INFINITY : reply;
  }
}

/**
 * Per-token rate limits in fixed windows: `CACHEGATE_RATE_LIMIT` for every token, overridden per token by
 * the tokens file. Every response to a limited token carries `RateLimit-Limit`, `RateLimit-Remaining`,
 * `RateLimit-Reset` (seconds) and `RateLimit-Policy`; past the limit the answer is `429` with `Retry-After`.
 * The Redis store fails open: if Redis cannot count, the request goes on (and meets the same Redis anyway).
 */
export class RateLimiter {
  readonly #fallback: RateLimitRule | undefined;
  readonly #store: RateLimitStore;
  readonly #log: Logger;

  constructor(options: {
    fallback: RateLimitRule | undefined;
    store: 'memory' | 'redis';
    executor: CommandExecutor;
    log: Logger;
  }) {
    this.#fallback = options.fallback;
    this.#store = options.store === 'redis' ? new RedisStore(options.executor) : new MemoryStore();
    this.#log = options.log;
  }

  /**
   * Counts the request against its token's limit and adds the RateLimit headers to `ctx`. Returns the 429
   * to answer, or undefined to go on; synchronously unless the count lives in Redis. Tokens without a
   * limit pay one property read.
   */
  apply(
    ctx: RequestContext,
    principal: Principal,
  ): GatewayError | undefined | Promise<GatewayError | undefined> {
    const rule = principal.rateLimit === 'off' ? undefined : (principal.rateLimit ?? this.#fallback);
    if (rule === undefined) return undefined;
    const now = Date.now();
    const window = Math.floor(now / rule.windowMs);
    const counted = this.#store.hit(principal.name, window, rule);
    if (typeof counted === 'number') return decide(ctx, principal, rule, now, window, counted);
    return counted.then(
      (count) => decide(ctx, principal, rule, now, window, count),
      (error: unknown) => {
        this.#log.warn({ err: error }, 'rate limit store unavailable; request allowed');
        return undefined;
      },
    );
  }
}

function decide(
  ctx: RequestContext,
  principal: Principal,
  rule: RateLimitRule,
  now: number,
  window: number,
  count: number,
): GatewayError | undefined {
  const resetSeconds = Math.ceil(((window + 1) * rule.windowMs - now) / 1000);
  ctx.headers.push(
    'ratelimit-limit',
    String(rule.limit),
    'ratelimit-remaining',
    String(Math.max(0, rule.limit - count)),
    'ratelimit-reset',
    String(resetSeconds),
    'ratelimit-policy',
    `${rule.limit};w=${Math.max(1, Math.round(rule.windowMs / 1000))}`,
  );
  if (count <= rule.limit) return undefined;
  const error = gatewayError(
    'CG_ERR_RATE_LIMITED',
    `Rate limit of ${rule.text} exceeded for token "${principal.name}"`,
  );
  error.retryAfterSeconds = resetSeconds;
  return error;
}
