import { monitorEventLoopDelay } from 'node:perf_hooks';

/** How often the event-loop delay is sampled and the overload decision refreshed. */
const SAMPLE_INTERVAL_MS = 500;

/**
 * Backpressure. Past `CACHEGATE_MAX_IN_FLIGHT` requests in flight, or while the event loop lags more than
 * `CACHEGATE_MAX_EVENT_LOOP_DELAY_MS`, new requests are answered `503` + `Retry-After` at once instead of
 * queueing without bound; requests already admitted finish normally. The adapter never sheds public
 * routes (health), so probes keep telling the truth.
 */
export class LoadShedder {
  readonly #maxInFlight: number;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #histogram: ReturnType<typeof monitorEventLoopDelay> | undefined;
  #isLagging = false;

  constructor(maxInFlight: number, maxEventLoopDelayMs: number) {
    this.#maxInFlight = maxInFlight;
    if (maxEventLoopDelayMs <= 0) return;
    const histogram = monitorEventLoopDelay({ resolution: 20 });
    histogram.enable();
    this.#histogram = histogram;
    let lastTick = performance.now();
    this.#timer = setInterval(() => {
      // This callback is itself delayed by a blocked loop; that drift catches a stall the histogram has not
      // recorded yet. Either one past the bound sheds load for the next interval.
      const now = performance.now();
      const driftMs = now - lastTick - SAMPLE_INTERVAL_MS;
      lastTick = now;
      this.#isLagging = Math.max(driftMs, histogram.percentile(99) / 1e6) > maxEventLoopDelayMs;
      histogram.reset();
    }, SAMPLE_INTERVAL_MS);
    this.#timer.unref();
  }

  /**
   * Why a new request must be turned away, with `inFlight` counting it, its token having `ownInFlight` in
   * flight already; undefined to admit it. While the event loop lags, only tokens with nothing in flight
   * get in: those loading the gateway are turned away, not everyone else.
   */
  reason(inFlight: number, ownInFlight = 0): string | undefined {
    if (inFlight > this.#maxInFlight) {
      return `Too many requests in flight (CACHEGATE_MAX_IN_FLIGHT=${this.#maxInFlight})`;
    }
    if (this.#isLagging && ownInFlight > 0)
      return 'The gateway is overloaded (event loop delay over CACHEGATE_MAX_EVENT_LOOP_DELAY_MS)';
    return undefined;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#histogram?.disable();
  }
}
