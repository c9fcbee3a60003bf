/**
 * Memory counted for a value the gateway builds from a Redis reply, on top of its bytes: the object that
 * holds it (a string or a Buffer view) and its slot in an array. Measured on Node 20: a Buffer view of a
 * bulk string costs about 100 bytes of heap, a short string about 30, an array slot 8. 64 keeps a reply of
 * many tiny elements (`LRANGE` of 2,000,000 one-byte items: 14 MB on the wire, over 200 MB of objects)
 * from passing as small.
 */
export const VALUE_OVERHEAD_BYTES = 64;

/**
 * Bytes each answer may hold however full the process budget is, so that small answers (a GET, a PING, an
 * error) are never refused because large ones hold the budget.
 */
export const ANSWER_FLOOR_BYTES = 64 * 1024;

/** Why a reply was not built: over its command's cap, its request's cap, the process's, or nobody waits. */
export type DropReason = 'reply' | 'answer' | 'process' | 'unwanted';

/**
 * The memory every answer in the process holds at once, in the units that cost (see
 * {@link VALUE_OVERHEAD_BYTES}): the values built from Redis replies from the moment they are read until
 * the answer made of them has been handed to the socket. Each request takes an {@link AnswerReservation};
 * a reply that does not fit is read and dropped unbuilt, and its command answered with an error.
 */
export class AnswerBudget {
  /** Bytes held now, across every open reservation (the `cachegate_answer_bytes_held` gauge). */
  held = 0;

  /**
   * @param maxHeld bytes held at once by the whole process (CACHEGATE_MAX_BUFFERED_REPLY_BYTES).
   * @param maxPerAnswer bytes one request's answer may hold (CACHEGATE_MAX_ANSWER_BYTES).
   */
  constructor(
    readonly maxHeld: number,
    readonly maxPerAnswer: number,
  ) {}

  /** A reservation for one request's answer; release it when the request settles. */
  open(): AnswerReservation {
    return new AnswerReservation(this);
  }
}

/** One request's share of the {@link AnswerBudget}, released exactly once when the request settles. */
export class AnswerReservation {
  /** Bytes this answer holds now. */
  bytes = 0;
  /** False once released: replies still arriving for it are dropped unbuilt (nobody will read them). */
  isOpen = true;

  constructor(readonly budget: AnswerBudget) {}

  /**
   * Holds `n` more bytes. Returns undefined when they fit, else why not (nothing is held then). The
   * first {@link ANSWER_FLOOR_BYTES} of every answer fit whatever the process holds.
   */
  charge(n: number): DropReason | undefined {
    if (!this.isOpen) return 'unwanted';
    const bytes = this.bytes + n;
    const budget = this.budget;
    if (bytes > budget.maxPerAnswer) return 'answer';
    if (bytes > ANSWER_FLOOR_BYTES && budget.held + n > budget.maxHeld) return 'process';
    this.bytes = bytes;
    budget.held += n;
    return undefined;
  }

  /** Gives back `n` bytes charged for something that was dropped after all. */
  refund(n: number): void {
    if (!this.isOpen) return;
    this.bytes -= n;
    this.budget.held -= n;
  }

  /** Gives everything back; later charges are refused. Safe to call twice. */
  release(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.budget.held -= this.bytes;
    this.bytes = 0;
  }
}
