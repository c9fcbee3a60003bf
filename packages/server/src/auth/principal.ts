import type { RateLimitRule } from '../rate-limit-rule.js';
import type { DatabaseSettings, RedisUser } from './database.js';

/** What a token may do: `read` < `write` < `admin`. */
export type Scope = 'read' | 'write' | 'admin';

/** Who is calling, as the auth step resolved it from the token. Never holds the token itself. */
export interface Principal {
  /** Token name, for logs and metrics. */
  readonly name: string;
  readonly scope: Scope;
  /** When set, this principal's commands run as (a scoped copy of) this Redis ACL user. */
  readonly redisUser?: RedisUser;
  /** This token's own rate limit (tokens file), or 'off'; unset: `CACHEGATE_RATE_LIMIT` applies. */
  readonly rateLimit?: RateLimitRule | 'off';
  /** The Redis this principal's commands go to (tokens file); unset: the gateway's main Redis. */
  readonly database?: DatabaseSettings;
}

/** The gateway itself, for its own commands (rate-limit counters): the configured Redis user. */
export const GATEWAY_PRINCIPAL: Principal = { name: 'cachegate', scope: 'admin' };
