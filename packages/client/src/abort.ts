import { CachegateError, CachegateTimeoutError } from './errors.js';
import { type Transport, wrap } from './transport.js';

/**
 * A transport whose sends end at their `timeoutMs` or when their signal fires, whichever comes first; the
 * one place a call's deadline is applied. `describe` names what did not answer, for the timeout's message.
 */
export function withTimeout(inner: Transport, describe: (ms: number) => string): Transport {
  return wrap(inner, (commands, options) =>
    withDeadline(
      options.timeoutMs,
      options.signal,
      (signal) =>
        inner.send(commands, {
          mode: options.mode,
          signal,
          deadline: options.timeoutMs === undefined ? options.deadline : Date.now() + options.timeoutMs,
        }),
      describe,
    ),
  );
}

/**
 * Runs `work` with a signal that aborts after `timeoutMs` (reason: a CachegateTimeoutError) or when `parent`
 * aborts (reason: a `CG_ERR_ABORTED` error), and rejects with that reason as soon as either happens, even
 * if `work` ignores its signal. Timers are cleared when the work settles, so nothing lingers. Without
 * `timeoutMs` only `parent` can stop the work (an outer deadline already bounds it).
 */
export async function withDeadline<T>(
  timeoutMs: number | undefined,
  parent: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
  describeTimeout?: (ms: number) => string,
): Promise<T> {
  const controller = new AbortController();
  const { signal } = controller;
  if (parent?.aborted) throw abortedError(parent);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onParentAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    const stop = (reason: CachegateError) => {
      controller.abort(reason);
      reject(reason);
    };
    if (timeoutMs !== undefined) {
      timer = setTimeout(
        () => stop(new CachegateTimeoutError(timeoutMs, describeTimeout?.(timeoutMs))),
        timeoutMs,
      );
    }
    if (parent !== undefined) {
      onParentAbort = () => stop(abortedError(parent));
      parent.addEventListener('abort', onParentAbort, { once: true });
    }
  });
  // The loser of the race must not become an unhandled rejection.
  stopped.catch(() => {});
  try {
    return await Promise.race([work(signal), stopped]);
  } catch (error) {
    // Work that rejects because its signal fired (fetch does) reports the reason, not its own AbortError.
    throw signal.aborted ? signal.reason : error;
  } finally {
    clearTimeout(timer);
    if (onParentAbort !== undefined) parent?.removeEventListener('abort', onParentAbort);
  }
}

/** Resolves after `ms`, or rejects with `signal`'s CachegateError reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A signal that aborts once every signal in `signals` has aborted: a shared request may stop only when
 * nobody waits for it any more. `signal` is undefined when any caller passed none (that caller waits to the
 * end). Call `dispose` when the request is over, so long-lived caller signals do not collect listeners.
 */
export function whenAllAborted(signals: (AbortSignal | undefined)[]): {
  signal: AbortSignal | undefined;
  dispose(): void;
} {
  if (signals.length === 0 || signals.some((signal) => signal === undefined)) {
    return { signal: undefined, dispose: () => {} };
  }
  const controller = new AbortController();
  let remaining = signals.length;
  const listeners: [AbortSignal, () => void][] = [];
  for (const signal of signals as AbortSignal[]) {
    const onAbort = () => {
      remaining -= 1;
      if (remaining === 0) controller.abort(abortedError(signal));
    };
    if (signal.aborted) onAbort();
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      listeners.push([signal, onAbort]);
    }
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [signal, onAbort] of listeners) signal.removeEventListener('abort', onAbort);
    },
  };
}

/** The error a caller sees when its own signal aborted the call. */
export function abortedError(signal: AbortSignal): CachegateError {
  if (signal.reason instanceof CachegateError) return signal.reason;
  return new CachegateError('CG_ERR_ABORTED', 'The operation was aborted by its signal', {
    cause: signal.reason,
  });
}
