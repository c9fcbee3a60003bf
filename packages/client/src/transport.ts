import type { Command } from './commands.js';
import type { CachegateError } from './errors.js';

/**
 * How a batch runs: `pipeline` sends the commands back to back, each succeeding or failing on its own;
 * `transaction` runs them atomically inside MULTI/EXEC. An automatic batch of one command is a pipeline.
 */
export type BatchMode = 'pipeline' | 'transaction';

/**
 * What one command produced: its reply (RESP2 shaped: string, integer, null or array) or its error. An
 * outcome carries a delivery failure (`CG_ERR_UNAVAILABLE`, a gateway 503, `CG_ERR_TIMEOUT`,
 * `CG_ERR_RATE_LIMITED`) only for a command that may be sent again elsewhere: it never left, or repeating it
 * is harmless. A command that may have run and is not safe to repeat carries `CG_ERR_OUTCOME_UNKNOWN`.
 */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: CachegateError };

/** Options of one {@link Transport.send}. */
export interface SendOptions {
  /** How the commands run. */
  mode: BatchMode;
  /**
   * The call's deadline in milliseconds, applied by the timeout layer of a composed transport; the layers
   * below it see only the resulting `signal`.
   * @default undefined (only `signal` ends the send)
   */
  timeoutMs?: number | undefined;
  /**
   * When the send must be over (a `Date.now()` time), set by the timeout layer for the layers below it, so
   * that they can plan: a retry does not start a backoff it cannot finish.
   * @default undefined
   */
  deadline?: number | undefined;
  /**
   * Fires when the send should stop: its deadline passed, or every caller waiting for it gave up.
   * @default undefined
   */
  signal?: AbortSignal | undefined;
}

/**
 * The one seam between the command client and the wire. `HttpTransport` speaks HTTP to the gateway and
 * `RedisTransport` speaks RESP to Redis directly; retries, deadlines and the hybrid client's fallback are
 * transports too, wrapped around those (`withRetry`, `withTimeout`, `withFallback`). Every transport returns
 * replies of the same shape, so a value written through one reads back identically through another.
 */
export interface Transport {
  /**
   * Runs the commands and returns one outcome per command, in order. A Redis error for one command is an
   * outcome; a failure of the whole request (unreachable, timeout, 401, 403...) is thrown as a
   * CachegateError, and a transaction Redis discards fails every outcome.
   */
  send(commands: Command[], options: SendOptions): Promise<Outcome[]>;
  /**
   * True when this client can use the service now (reachable, ready, credentials accepted), checked with
   * one cheap request within `timeoutMs`. Never throws.
   */
  isHealthy(timeoutMs: number): Promise<boolean>;
  /** Releases connections. Sends after close fail with `CG_ERR_CLIENT_CLOSED`. */
  close(): Promise<void>;
}

/** A transport that sends its own way and passes health checks and closing through to `inner`. */
export function wrap(inner: Transport, send: Transport['send']): Transport {
  return { send, isHealthy: (timeoutMs) => inner.isHealthy(timeoutMs), close: () => inner.close() };
}

/** Sends the commands at `positions` and writes their outcomes into `outcomes` at those same positions. */
export async function sendAt(
  send: Transport['send'],
  commands: Command[],
  positions: number[],
  outcomes: Outcome[],
  options: SendOptions,
): Promise<void> {
  const results = await send(
    positions.map((index) => commands[index] as Command),
    options,
  );
  positions.forEach((index, position) => {
    outcomes[index] = results[position] as Outcome;
  });
}

/** Gives every command at `positions` the same failed outcome. */
export function failAt(outcomes: Outcome[], positions: number[], error: CachegateError): void {
  for (const index of positions) outcomes[index] = { ok: false, error };
}
