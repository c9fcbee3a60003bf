import type { Command } from './commands.js';
import type { CachegateError } from './errors.js';

/**
 * How a batch runs: `pipeline` sends the commands back to back, each succeeding or failing on its own;
 * `transaction` runs them atomically inside MULTI/EXEC. An automatic batch of one command is a pipeline.
 */
export type BatchMode = 'pipeline' | 'transaction';

/** What one command produced: its reply (RESP2 shaped: string, integer, null or array) or its error. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: CachegateError };

/** Options of one {@link Transport.send}. */
export interface SendOptions {
  /** How the commands run. */
  mode: BatchMode;
  /**
   * How long the transport may take before failing with a timeout, in milliseconds.
   * @default undefined (no timer of its own: an outer deadline bounds it)
   */
  timeoutMs?: number | undefined;
  /**
   * Fires when every caller waiting for this batch has given up: the transport should stop waiting.
   * @default undefined
   */
  signal?: AbortSignal | undefined;
}

/**
 * The seam between operations and the wire: one implementation speaks HTTP to the gateway, one speaks
 * RESP to Redis directly. Both run the same command arrays and return replies of the same shape, so a
 * value written through one reads back identically through the other.
 */
export interface Transport {
  /**
   * Runs the commands and returns one outcome per command, in order. A Redis error for one command is an
   * outcome; a failure of the whole request (unreachable, timeout, 401, 403...) is thrown as a
   * CachegateError, and a transaction Redis discards fails every outcome.
   */
  send(commands: Command[], options: SendOptions): Promise<Outcome[]>;
  /** Releases connections. Sends after close fail with `CG_ERR_CLIENT_CLOSED`. */
  close?(): Promise<void>;
}
