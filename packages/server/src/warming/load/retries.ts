import { FatalError } from './items.js';

/** Attempts of a batch whose delivery failed, and the first pause between them (doubled each time). */
const ATTEMPTS = 6;
const FIRST_PAUSE_MS = 250;

/** A failure after which the same request may succeed later: sent again after `afterMs`. */
export class RetryLater extends Error {
  override name = 'RetryLater';
  constructor(
    message: string,
    /** When the server said when (Retry-After); otherwise the backoff decides. */
    readonly afterMs?: number,
    /** Does not use up an attempt (a 429: the server is pacing us, nothing failed). */
    readonly isPacing = false,
  ) {
    super(message);
  }
}

/**
 * Runs `attempt` until it succeeds, sending it again after a failure that may pass (a lost connection, a
 * 503, a failover under way: about 8 s of backoff over {@link ATTEMPTS} attempts; a 429 for as long as the
 * server asks). A {@link FatalError} is thrown at once; once the attempts are used up, the last failure is
 * thrown as one too: the destination is down, and the run stops where it got to.
 */
export async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
  let failures = 0;
  let paced = 0;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof FatalError) throw error;
      // Paced without end is a failure too.
      const pacing = error instanceof RetryLater && error.isPacing && ++paced < 100;
      if (!pacing) failures++;
      // Unreachable for this long: every batch after it would fail the same way, so the run stops here.
      if (failures >= ATTEMPTS) throw new FatalError(`${(error as Error).message}, ${ATTEMPTS} times`);
      const backoff = FIRST_PAUSE_MS * 2 ** Math.max(0, failures - 1);
      const pause = error instanceof RetryLater && error.afterMs !== undefined ? error.afterMs : backoff;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
