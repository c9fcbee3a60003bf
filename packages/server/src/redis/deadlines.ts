interface Pending {
  readonly deadline: number;
  settled: boolean;
  readonly expire: () => void;
}

/**
 * Timeouts for many operations of the same duration: one queue and one coarse timer, instead of a timer and
 * a Promise.race per request on the hot path. Every entry lives as long as the others, so deadlines arrive
 * in order and the queue is first in, first out. An operation times out between `durationMs` and
 * `durationMs + granularityMs` after it started.
 */
export class Deadlines {
  #queue: Pending[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly durationMs: number,
    private readonly granularityMs = 10,
  ) {}

  /** Settles as `work` does, or rejects with `timeoutError()` once the duration has passed. */
  race<T>(work: Promise<T>, timeoutError: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        deadline: performance.now() + this.durationMs,
        settled: false,
        expire: () => reject(timeoutError()),
      };
      this.#queue.push(pending);
      this.#timer ??= setInterval(() => this.#sweep(), this.granularityMs).unref();
      work.then(
        (value) => {
          pending.settled = true;
          resolve(value);
        },
        (error: unknown) => {
          pending.settled = true;
          reject(error);
        },
      );
    });
  }

  #sweep() {
    const now = performance.now();
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const pending = queue[this.#head] as Pending;
      if (!pending.settled && pending.deadline > now) break;
      this.#head++;
      if (!pending.settled) {
        pending.settled = true;
        pending.expire();
      }
    }
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
      clearInterval(this.#timer);
      this.#timer = undefined;
    } else if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
