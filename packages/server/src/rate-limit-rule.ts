/** A rate limit: at most `limit` requests per fixed window of `windowMs`. */
export interface RateLimitRule {
  readonly limit: number;
  readonly windowMs: number;
  /** As written in the configuration, e.g. "100/1s". */
  readonly text: string;
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Parses `<count>/<window>`, e.g. `100/1s`, `6000/1m`, `50/s`, `10000/1h`.
 * @returns the rule, or an error message naming the expected form.
 */
export function parseRateLimit(text: string): RateLimitRule | string {
  const match = /^\s*(\d+)\s*\/\s*(\d*)\s*(ms|s|m|h)\s*$/.exec(text);
  const limit = Number(match?.[1]);
  const windowMs = Number(match?.[2] || 1) * UNIT_MS[(match?.[3] ?? 's') as keyof typeof UNIT_MS];
  if (match === null || limit < 1 || windowMs < 1) {
    return 'must look like <count>/<window>, e.g. 100/1s, 6000/1m or 10000/1h';
  }
  return { limit, windowMs, text: text.trim() };
}
