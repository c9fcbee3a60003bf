import type { ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal.js';
import { gatewayError } from '../errors.js';

/** One open stream (a subscription, a MONITOR): whose it is, and how to end it. */
export interface StreamSlot {
  readonly principal: Principal;
  /** The answer the stream is written to. */
  readonly res: ServerResponse;
  /** Ends the stream (set by its route once it is open); ending releases the slot. */
  end: () => void;
  /** Gives the slot back; safe to call twice. */
  release(): void;
}

/**
 * The streams open in this process (server-sent events: `/subscribe`, `/psubscribe`, `/monitor`). A slot is
 * taken before anything is opened on Redis, so the cap holds however slowly a stream opens; it is given back
 * exactly once, whichever way the stream ends. Streams end when the gateway drains and, within the reload,
 * when their token is revoked or changed.
 */
export class OpenStreams {
  readonly #slots = new Set<StreamSlot>();

  /** Streams open now (the `cachegate_streams_open` gauge). */
  get size(): number {
    return this.#slots.size;
  }

  /**
   * Takes a slot for a new stream of `principal`.
   * @throws {GatewayError} 503 CG_ERR_OVERLOADED past `max` (CACHEGATE_MAX_STREAMS).
   */
  open(principal: Principal, res: ServerResponse, max: number): StreamSlot {
    if (this.#slots.size >= max) {
      throw gatewayError('CG_ERR_OVERLOADED', `Too many streams open (CACHEGATE_MAX_STREAMS=${max})`);
    }
    const slots = this.#slots;
    const slot: StreamSlot = {
      principal,
      res,
      end: () => slot.release(),
      release: () => {
        slots.delete(slot);
      },
    };
    slots.add(slot);
    return slot;
  }

  /** Ends every stream (draining). */
  endAll(): void {
    for (const slot of [...this.#slots]) slot.end();
  }

  /**
   * Ends the streams whose principal `isCurrent` no longer accepts (its token was removed or changed), and
   * closes their connections: nothing more is for them there.
   */
  endRevoked(isCurrent: (principal: Principal) => boolean): number {
    let ended = 0;
    for (const slot of [...this.#slots]) {
      if (isCurrent(slot.principal)) continue;
      slot.end();
      slot.res.destroy();
      ended++;
    }
    return ended;
  }
}
