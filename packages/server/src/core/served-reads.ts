import type { PlannedCommand } from '../redis/backend.js';
import type { Reply } from '../redis/types.js';

/**
 * Told about every batch the executor answered, so that a feature can learn which keys are read (the hot
 * set of `warming/`). It must be cheap and must not throw: it runs on every request's path, after the
 * replies are in and before they are sent. It only looks; it never calls back into the path.
 */
export interface ServedReadsObserver {
  /**
   * `commands` ran for a caller of `database` and got `replies` (one per command, in order; Redis errors
   * as ErrorReply entries).
   */
  served(database: string, commands: readonly PlannedCommand[], replies: readonly Reply[]): void;
}
