import type { Command } from './commands.js';
import { type CachegateError, CachegateUnavailableError, clientClosed, hasCode } from './errors.js';
import { deliveryOf, partitionForResend } from './retry.js';
import { failAt, type Outcome, type SendOptions, sendAt, type Transport } from './transport.js';

/** Options of {@link withFallback}. */
export interface FallbackOptions {
  /** While on the secondary, how often the primary's health is probed, at most, in milliseconds. */
  recheckIntervalMs: number;
  /** Deadline of each automatic health probe, in milliseconds. */
  probeTimeoutMs: number;
  /** Names of the two paths, for messages: `The gateway` is unavailable and `direct Redis` failed too. */
  names: { primary: string; secondary: string };
  /** Called once per outage, when sends switch to the secondary, with the failure that caused it. */
  onFallback?: ((error: CachegateError) => void) | undefined;
  /** Called once per outage, when the primary is healthy again and sends switch back to it. */
  onRecover?: ((info: { unavailableForMs: number }) => void) | undefined;
}

/** Which path sends take. */
export type ActivePath = 'primary' | 'secondary';

/**
 * Sends to `primary` and, when its path fails (unreachable, reset, timed out, 502/503/504), to `secondary`
 * until a health probe finds the primary healthy again. Only what may be sent again goes to the secondary:
 * a command that may have reached the primary and is not safe to repeat keeps `CG_ERR_OUTCOME_UNKNOWN`, so
 * it runs at most once. 401, 403 and 429 are answers, not path failures: they surface as they are.
 */
export function withFallback(
  primary: Transport,
  secondary: Transport,
  options: FallbackOptions,
): FallbackTransport {
  return new FallbackTransport(primary, secondary, options);
}

/** The transport {@link withFallback} builds; `active` tells which path sends take now. */
export class FallbackTransport implements Transport {
  readonly #primary: Transport;
  readonly #secondary: Transport;
  readonly #options: FallbackOptions;
  #active: ActivePath = 'primary';
  /** Counts recoveries, so that a send begun before the last one cannot start a new outage. */
  #recoveries = 0;
  #unavailableSince = 0;
  #lastProbeAt = 0;
  #probe: Promise<boolean> | undefined;
  #closed = false;

  constructor(primary: Transport, secondary: Transport, options: FallbackOptions) {
    this.#primary = primary;
    this.#secondary = secondary;
    this.#options = options;
  }

  get active(): ActivePath {
    return this.#active;
  }

  async send(commands: Command[], options: SendOptions): Promise<Outcome[]> {
    if (this.#closed) throw clientClosed();
    if (this.#active === 'secondary' && Date.now() - this.#lastProbeAt >= this.#options.recheckIntervalMs)
      // The probe spends the call's time too, so it gets no more than the call's own timeout.
      await this.isHealthy(
        Math.min(this.#options.probeTimeoutMs, options.timeoutMs ?? Number.POSITIVE_INFINITY),
      );
    if (this.#active === 'secondary') return this.#sendSecondary(commands, options);
    const recoveries = this.#recoveries;
    const outcomes = await this.#sendPrimary(commands, options);
    const failure = pathFailure(outcomes);
    if (failure === undefined) return outcomes;
    // A send still failing from an outage the probe has since seen end does not start another one.
    if (recoveries === this.#recoveries) this.#fallBack(failure);
    const resend = outcomes.flatMap((outcome, index) =>
      !outcome.ok && isGatewayFailure(outcome.error) ? [index] : [],
    );
    if (resend.length > 0) {
      try {
        await sendAt(
          (batch, sendOptions) => this.#sendSecondary(batch, sendOptions),
          commands,
          resend,
          outcomes,
          options,
        );
      } catch (error) {
        failAt(outcomes, resend, error as CachegateError);
      }
    }
    return outcomes;
  }

  /**
   * Probes the primary now (sharing a probe already running) and switches back to it when it is healthy.
   * Never throws.
   */
  isHealthy(timeoutMs: number): Promise<boolean> {
    this.#probe ??= (async () => {
      try {
        const healthy = await this.#primary.isHealthy(timeoutMs);
        if (healthy && this.#active === 'secondary') this.#recover();
        return healthy;
      } finally {
        this.#lastProbeAt = Date.now();
        this.#probe = undefined;
      }
    })();
    return this.#probe;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#primary.close(), this.#secondary.close()]);
  }

  /** The primary's outcomes; a path failure it throws becomes outcomes, split by what may be re-sent. */
  async #sendPrimary(commands: Command[], options: SendOptions): Promise<Outcome[]> {
    try {
      return await this.#primary.send(commands, options);
    } catch (caught) {
      const error = caught as CachegateError;
      if (!isGatewayFailure(error)) throw error;
      const positions = commands.map((_, index) => index);
      const { resend, settled } = partitionForResend(commands, positions, error, options.mode);
      const outcomes: Outcome[] = new Array(commands.length);
      for (const [index, outcome] of settled) outcomes[index] = outcome;
      failAt(outcomes, resend, error);
      return outcomes;
    }
  }

  async #sendSecondary(commands: Command[], options: SendOptions): Promise<Outcome[]> {
    try {
      return await this.#secondary.send(commands, options);
    } catch (error) {
      if (!hasCode(error, 'CG_ERR_UNAVAILABLE')) throw error;
      const { primary, secondary } = this.#options.names;
      const since = new Date(this.#unavailableSince).toISOString();
      throw new CachegateUnavailableError(
        `${primary} is unavailable (since ${since}) and ${secondary} failed too: ${error.message}`,
        { sent: (error as CachegateUnavailableError).sent ?? true, cause: error },
      );
    }
  }

  #fallBack(error: CachegateError): void {
    if (this.#active === 'secondary') return;
    this.#active = 'secondary';
    this.#unavailableSince = Date.now();
    this.#lastProbeAt = this.#unavailableSince;
    safely(() => this.#options.onFallback?.(error));
  }

  #recover(): void {
    this.#active = 'primary';
    this.#recoveries += 1;
    const unavailableForMs = Date.now() - this.#unavailableSince;
    safely(() => this.#options.onRecover?.({ unavailableForMs }));
  }
}

/** Refused, reset, timed out or 502/503/504: the path is broken. 401/403/429 are not fallbacks. */
function isGatewayFailure(error: unknown): boolean {
  return deliveryOf(error) !== undefined && !hasCode(error, 'CG_ERR_RATE_LIMITED');
}

/**
 * The failure that broke the primary's last attempt, if it did: a command still carrying a delivery
 * failure, or every command left unknown (a retry that got through leaves at least one real answer).
 */
function pathFailure(outcomes: Outcome[]): CachegateError | undefined {
  const errors = outcomes.flatMap((outcome) => (outcome.ok ? [] : [outcome.error]));
  const undelivered = errors.find(isGatewayFailure);
  if (undelivered !== undefined) return undelivered;
  const allUnknown = errors.length > 0 && errors.length === outcomes.length && errors.every(isUnknown);
  return allUnknown ? (errors[0]?.cause as CachegateError) : undefined;
}

function isUnknown(error: CachegateError): boolean {
  return hasCode(error, 'CG_ERR_OUTCOME_UNKNOWN');
}

/** A throwing callback must not break the call that triggered it. */
function safely(callback: () => void): void {
  try {
    callback();
  } catch {
    // The caller's own bug; the SDK has nowhere sensible to report it.
  }
}
