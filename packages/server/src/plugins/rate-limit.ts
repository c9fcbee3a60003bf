import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { gatewayError } from '../errors.js';
import type { RateLimitRule } from '../rate-limit-rule.js';
import type { CommandExecutor } from '../redis/executor.js';

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

/** INCR the window's counter, giving it an expiry when it is created; atomic, so replicas share one count. */
const HIT_SCRIPT =
  "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n";

/** Counts in Redis, so every gateway replica in front of it enforces one shared limit. */
class RedisStore implements RateLimitStore {
  constructor(private readonly executor: CommandExecutor) {}

  async hit(key: string, window: number, rule: RateLimitRule): Promise<number> {
    const [reply] = await this.executor.runAsGateway([
      ['EVAL', HIT_SCRIPT, '1', `cachegate:ratelimit:${key}:${window}`, String(rule.windowMs * 2)],
    ]);
    if (typeof reply !== 'number') throw new Error(`the rate-limit script answered ${String(reply)}`);
    return reply;
  }
}

/**
 * Per-token rate limits in fixed windows: `CACHEGATE_RATE_LIMIT` for every token, overridden per token by
 * the tokens file. Every response to a limited token carries `RateLimit-Limit`, `RateLimit-Remaining`,
 * `RateLimit-Reset` (seconds) and `RateLimit-Policy`; past the limit the answer is `429` with `Retry-After`.
 * The Redis store fails open: if Redis cannot count, the request goes on (and meets the same Redis anyway).
 */
async function rateLimitPlugin(app: FastifyInstance) {
  const fallback = app.config.rateLimit;
  const store: RateLimitStore =
    app.config.rateLimitStore === 'redis' ? new RedisStore(app.executor) : new MemoryStore();

  // A callback hook, not an async one: most requests have no limit, and those pay no promise for it.
  app.addHook('onRequest', (request, reply, done) => {
    const principal = request.principal;
    const rule =
      principal === undefined || principal.rateLimit === 'off'
        ? undefined
        : (principal.rateLimit ?? fallback);
    if (rule === undefined) return done();
    const now = Date.now();
    const window = Math.floor(now / rule.windowMs);
    const decide = (count: number) => {
      const resetSeconds = Math.ceil(((window + 1) * rule.windowMs - now) / 1000);
      setHeaders(reply, rule, Math.max(0, rule.limit - count), resetSeconds);
      if (count <= rule.limit) return done();
      const error = gatewayError(
        'CG_ERR_RATE_LIMITED',
        `Rate limit of ${rule.text} exceeded for token "${principal?.name}"`,
      );
      error.retryAfterSeconds = resetSeconds;
      done(error);
    };
    const counted = store.hit(principal?.name ?? '', window, rule);
    if (typeof counted === 'number') return decide(counted);
    counted.then(decide, (error: unknown) => {
      request.log.warn({ err: error }, 'rate limit store unavailable; request allowed');
      done();
    });
  });
}

function setHeaders(reply: FastifyReply, rule: RateLimitRule, remaining: number, resetSeconds: number) {
  reply.header('ratelimit-limit', String(rule.limit));
  reply.header('ratelimit-remaining', String(remaining));
  reply.header('ratelimit-reset', String(resetSeconds));
  reply.header('ratelimit-policy', `${rule.limit};w=${Math.max(1, Math.round(rule.windowMs / 1000))}`);
}

export default fp(rateLimitPlugin, { name: 'rate-limit', dependencies: ['auth'] });
