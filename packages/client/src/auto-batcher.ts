import { abortedError, whenAllAborted } from './abort.js';
import type { Command } from './commands.js';
import { CachegateError } from './errors.js';
import type { Outcome } from './transport.js';

/** Runs one automatic batch: every command's outcome, in order; a throw fails every command. */
export type RunBatch = (
  commands: Command[],
  options: { timeoutMs: number; signal: AbortSignal | undefined },
) => Promise<Outcome[]>;

interface Waiter {
  command: Command;
  signal: AbortSignal | undefined;
  settle(outcome: Outcome): void;
  settled: boolean;
}

/**
 * Auto-pipelining: calls issued in the same tick (before the microtask queue drains) leave together in
 * one request, and each caller gets its own command's outcome. `await Promise.all([a, b, c])` costs one
 * round trip instead of three; sequential `await`s still cost one each, with no added delay.
 *
 * Calls with different timeouts travel in separate batches, so every command in a request shares one
 * deadline. A caller whose signal aborts is rejected at once; the request itself is cancelled only when
 * every caller in it has given up.
 */
export class AutoBatcher {
  readonly #run: RunBatch;
  readonly #maxBatchSize: number;
  #queues = new Map<number, Waiter[]>();
  #scheduled = false;

  constructor(run: RunBatch, maxBatchSize: number) {
    this.#run = run;
    this.#maxBatchSize = maxBatchSize;
  }

  /** Queues one command for the current tick's batch and resolves with its outcome. */
  enqueue(command: Command, timeoutMs: number, signal?: AbortSignal): Promise<Outcome> {
    if (signal?.aborted) return Promise.resolve({ ok: false, error: abortedError(signal) });
    return new Promise<Outcome>((resolve) => {
      const onAbort = () => waiter.settle({ ok: false, error: abortedError(signal as AbortSignal) });
      const waiter: Waiter = {
        command,
        signal,
        settled: false,
        settle(outcome) {
          if (waiter.settled) return;
          waiter.settled = true;
          signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const queue = this.#queues.get(timeoutMs) ?? [];
      if (queue.length === 0) this.#queues.set(timeoutMs, queue);
      queue.push(waiter);
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const queues = this.#queues;
    this.#queues = new Map();
    for (const [timeoutMs, waiters] of queues) {
      for (let start = 0; start < waiters.length; start += this.#maxBatchSize) {
        void this.#dispatch(waiters.slice(start, start + this.#maxBatchSize), timeoutMs);
      }
    }
  }

  async #dispatch(waiters: Waiter[], timeoutMs: number): Promise<void> {
    const live = waiters.filter((waiter) => !waiter.settled);
    if (live.length === 0) return;
    const { signal, dispose } = whenAllAborted(live.map((waiter) => waiter.signal));
    try {
      const outcomes = await this.#run(
        live.map((waiter) => waiter.command),
        { timeoutMs, signal },
      );
      live.forEach((waiter, index) => {
        waiter.settle(outcomes[index] ?? { ok: false, error: missingOutcome() });
      });
    } catch (error) {
      const failure = error instanceof CachegateError ? error : unexpected(error);
      for (const waiter of live) waiter.settle({ ok: false, error: failure });
    } finally {
      dispose();
    }
  }
}

function missingOutcome(): CachegateError {
  return new CachegateError('CG_ERR_RESPONSE_INVALID', 'The batch returned fewer results than commands');
}

/** A bug or a foreign error escaping a transport still reaches callers as a CachegateError with a cause. */
function unexpected(error: unknown): CachegateError {
  return new CachegateError(
    'CG_ERR_UNAVAILABLE',
    `Unexpected failure: ${(error as Error)?.message ?? error}`,
    {
      cause: error,
    },
  );
}
