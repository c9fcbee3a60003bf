import { sleep } from './abort.js';
import { type Command, commandName, isSafeToRepeat } from './commands.js';
import { type CachegateError, CachegateOutcomeUnknownError, hasCode, isUnavailable } from './errors.js';
import { type BatchMode, failAt, type Outcome, sendAt, type Transport, wrap } from './transport.js';

/** When and how often a failed request is re-sent. Only commands that are safe to repeat are re-sent. */
export interface RetryOptions {
  /** Re-sends after the first attempt. @default 2 */
  retries?: number;
  /** Upper bound of the first backoff; it doubles with each retry ("full jitter": a random delay below it). @default 50 */
  minDelayMs?: number;
  /** Cap of any backoff, including one asked for by `Retry-After`. @default 1000 */
  maxDelayMs?: number;
}

/** Retry settings with every default applied. */
export type RetryPolicy = Required<RetryOptions>;

/** The defaults of {@link RetryOptions}. */
export const DEFAULT_RETRY: RetryPolicy = { retries: 2, minDelayMs: 50, maxDelayMs: 1000 };

/** Applies defaults; `false` disables retries. */
export function resolveRetry(retry: RetryOptions | false | undefined): RetryPolicy {
  if (retry === false) return { ...DEFAULT_RETRY, retries: 0 };
  return { ...DEFAULT_RETRY, ...retry };
}

/** The delay before retry number `attempt` (0-based): full jitter, at least the server's Retry-After. */
export function backoffDelay(attempt: number, policy: RetryPolicy, retryAfterMs = 0): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** attempt);
  return Math.max(Math.random() * ceiling, Math.min(retryAfterMs, policy.maxDelayMs));
}

/**
 * A transport that re-sends what failed in delivery, with backoff, until `policy.retries` re-sends are spent,
 * the next backoff would pass the send's deadline, or its signal fires. When retries run out, the commands that may be sent again elsewhere carry the
 * last failure as their outcome, so a fallback after this layer can still take them (see {@link Outcome}).
 */
export function withRetry(inner: Transport, policy: RetryPolicy): Transport {
  return wrap(inner, async (commands, options) => {
    const outcomes: Outcome[] = new Array(commands.length);
    let pending = commands.map((_, index) => index);
    for (let attempt = 0; ; attempt++) {
      try {
        await sendAt(
          (batch, sendOptions) => inner.send(batch, sendOptions),
          commands,
          pending,
          outcomes,
          options,
        );
        return outcomes;
      } catch (caught) {
        const error = caught as CachegateError;
        // The deadline or the caller's signal ended the send: nothing left to wait for.
        if (options.signal?.aborted) throw error;
        if (deliveryOf(error) === undefined) {
          if (attempt === 0) throw error;
          // An earlier attempt may have run some commands, whose unknown outcomes must stand: a failure of
          // the whole batch now would have callers (the auto-batch split) send them again.
          failAt(outcomes, pending, error);
          return outcomes;
        }
        const { resend, settled } = partitionForResend(commands, pending, error, options.mode);
        for (const [index, outcome] of settled) outcomes[index] = outcome;
        const retryAfterMs = (error as { retryAfterMs?: number }).retryAfterMs;
        const delay = backoffDelay(attempt, policy, retryAfterMs);
        // A backoff past the deadline would end in a timeout, which says less than this failure does (a
        // refused request is known not to have run, a timed-out one is not).
        const outOfTime = options.deadline !== undefined && Date.now() + delay >= options.deadline;
        if (attempt >= policy.retries || outOfTime) failAt(outcomes, resend, error);
        if (attempt >= policy.retries || outOfTime || resend.length === 0) return outcomes;
        pending = resend;
        await sleep(delay, options.signal);
      }
    }
  });
}

/**
 * Whether a failed request reached the server: `not-sent` when provably not (connection refused, or a 429
 * rate limit, which rejects before anything runs), `maybe-sent` for resets, dropped answers, timeouts and
 * 502/503/504, `undefined` when the failure is not about delivery (401, 403, bad arguments...).
 */
export function deliveryOf(error: unknown): 'not-sent' | 'maybe-sent' | undefined {
  if (isUnavailable(error)) return error.sent === false ? 'not-sent' : 'maybe-sent';
  if (hasCode(error, 'CG_ERR_RATE_LIMITED')) return 'not-sent';
  if (hasCode(error, 'CG_ERR_TIMEOUT')) return 'maybe-sent';
  return undefined;
}

/** The commands of a failed batch that may be re-sent, and final outcomes for those that may not. */
export interface Partition {
  /** Positions (into the batch) that may be sent again. */
  resend: number[];
  /** Outcomes for positions that must not be sent again. */
  settled: Map<number, Outcome>;
}

/**
 * Splits a batch whose request failed with `error` (a delivery failure, see {@link deliveryOf}). When the
 * request never left, everything may be re-sent. Otherwise only commands safe to repeat may; the others
 * settle as CG_ERR_OUTCOME_UNKNOWN. A transaction is all or nothing: one unsafe command keeps it whole.
 */
export function partitionForResend(
  commands: Command[],
  positions: number[],
  error: CachegateError,
  mode: BatchMode,
): Partition {
  const settled = new Map<number, Outcome>();
  if (deliveryOf(error) === 'not-sent') return { resend: positions, settled };
  const safe = (position: number) => isSafeToRepeat(commands[position] ?? []);
  if (mode === 'transaction') {
    if (positions.every(safe)) return { resend: positions, settled };
    const unknown = new CachegateOutcomeUnknownError('MULTI/EXEC', error);
    for (const position of positions) settled.set(position, { ok: false, error: unknown });
    return { resend: [], settled };
  }
  const resend: number[] = [];
  for (const position of positions) {
    if (safe(position)) resend.push(position);
    else {
      const unknown = new CachegateOutcomeUnknownError(commandName(commands[position] ?? []), error);
      settled.set(position, { ok: false, error: unknown });
    }
  }
  return { resend, settled };
}
