import type { Item, Outcome, Rejected, Source, SourceBatch, Target } from './items.js';

/** Options of {@link load}. */
export interface LoadOptions {
  /** Units per batch (lines, keys). */
  batchSize: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** Most entries per second, on average; undefined: as fast as it goes. */
  rate?: number | undefined;
  /** Never replace a key that exists. */
  onlyMissing: boolean;
  /** Read and check everything, write nothing (the target is not called). */
  dryRun: boolean;
  /** Stops reading; the batches in flight finish; the summary says where to resume. */
  signal?: AbortSignal | undefined;
  /** Each item or input that failed, as soon as it is known. */
  onProblem?: ((problem: Rejected) => void) | undefined;
  /** Called after every batch. */
  onProgress?: ((progress: Progress) => void) | undefined;
  /** @default Date.now */
  now?: () => number;
}

/** Counts so far. */
export interface Progress {
  /** Written (or, with dry run, that would be). */
  loaded: number;
  /** Left as they were: they existed (`onlyMissing`). */
  skipped: number;
  /** Read but not written. */
  failed: number;
  /** Input that could not be used (bad lines). */
  rejected: number;
  /** All of the above. */
  done: number;
  elapsedMs: number;
  /** 0 to 1 when the source knows its size. */
  fraction: number | undefined;
}

/** How a run ended. */
export interface LoadSummary extends Progress {
  /** True when it stopped early (the signal), false when the source was read to its end. */
  interrupted: boolean;
  /**
   * The position (`--resume-from`) from which a new run would do everything this one did not: every
   * batch before it is done. After a complete run, the end.
   */
  resumeFrom: string | undefined;
  /** What stopped the run, when something did (a {@link FatalError}, a source that failed). */
  stoppedBy?: Error;
}

/**
 * Reads the source in batches and writes them to the target, `concurrency` batches at a time, at most
 * `rate` entries per second: the next batch is read only when a slot is free, so memory holds at most
 * `concurrency` batches whatever the input's size. Bad input and failed writes are reported through
 * `onProblem` and counted; they never stop the run. An error thrown by the target (a FatalError) or the
 * source does, after the batches in flight, and is the summary's `stoppedBy`. Interrupted by `signal`, it finishes the batches in flight and reports the first
 * position not done.
 */
export async function load(
  source: Source,
  target: Target | undefined,
  options: LoadOptions,
): Promise<LoadSummary> {
  const now = options.now ?? Date.now;
  const started = now();
  const counts = { loaded: 0, skipped: 0, failed: 0, rejected: 0 };
  const progress = (): Progress => ({
    ...counts,
    done: counts.loaded + counts.skipped + counts.failed + counts.rejected,
    elapsedMs: now() - started,
    fraction: source.fraction(),
  });
  const rate = options.rate;
  const batchSize =
    rate === undefined ? options.batchSize : Math.min(options.batchSize, Math.max(1, Math.ceil(rate / 10)));
  // Batches in input order, until done: the first not done is where a new run resumes.
  const pending: { resumeFrom: string; next: string; done: boolean }[] = [];
  let lastNext: string | undefined;
  const inFlight = new Set<Promise<void>>();
  let fatal: unknown;
  let dispatched = 0;
  let exhausted = false;

  const settle = (outcomes: Outcome[], items: Item[]) => {
    outcomes.forEach((outcome, i) => {
      if (outcome === 'loaded') counts.loaded++;
      else if (outcome === 'skipped') counts.skipped++;
      else {
        if (outcome.isInvalid) counts.rejected++;
        else counts.failed++;
        const where = outcome.where ?? whereOf(items[i] as Item);
        options.onProblem?.({ where, reason: outcome.failed });
      }
    });
  };

  const run = async (
    batch: (typeof pending)[number],
    read: () => Promise<{ items: Item[]; rejected: Rejected[] }>,
  ) => {
    const { items, rejected } = await read();
    for (const problem of rejected) {
      counts.rejected++;
      options.onProblem?.(problem);
    }
    if (items.length > 0) {
      const outcomes =
        options.dryRun || target === undefined
          ? items.map((): Outcome => 'loaded')
          : await target.write(items, options.onlyMissing);
      settle(outcomes, items);
    }
    batch.done = true;
    while (pending[0]?.done) pending.shift();
    options.onProgress?.(progress());
  };

  const iterator = source.batches(batchSize)[Symbol.asyncIterator]();
  try {
    for (;;) {
      while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
      if (fatal !== undefined || options.signal?.aborted) break;
      if (rate !== undefined && dispatched > 0) {
        await sleep(started + (dispatched / rate) * 1000 - now(), options.signal);
        if (options.signal?.aborted) break;
      }
      let next: IteratorResult<SourceBatch>;
      try {
        next = await iterator.next();
      } catch (error) {
        fatal ??= error;
        break;
      }
      if (next.done) {
        exhausted = true;
        break;
      }
      const batch = next.value;
      const entry = { resumeFrom: batch.resumeFrom, next: batch.next, done: false };
      pending.push(entry);
      lastNext = batch.next;
      dispatched += batch.size;
      const running: Promise<void> = run(entry, () => batch.read())
        .catch((error: unknown) => {
          fatal ??= error;
        })
        .finally(() => inFlight.delete(running));
      inFlight.add(running);
    }
    await Promise.all(inFlight);
  } finally {
    await iterator.return?.().catch(() => undefined);
  }
  return {
    ...progress(),
    interrupted: !exhausted || fatal !== undefined,
    resumeFrom: pending[0]?.resumeFrom ?? lastNext,
    ...(fatal === undefined ? {} : { stoppedBy: fatal instanceof Error ? fatal : new Error(String(fatal)) }),
  };
}

/** `line 12 (key "k")`, for messages. */
export function whereOf(item: Item): string {
  if (item.kind === 'lines') return item.where;
  return `${item.where} (key ${keyText(item.key)})`;
}

export function keyText(key: string | Buffer): string {
  const text = typeof key === 'string' ? key : key.toString('utf8');
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}

/** Waits `ms` (nothing when <= 0), or until `signal` fires. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
