import type { Command } from './commands.js';
import { type CachegateError, invalidArgument } from './errors.js';
import { operations } from './operations.js';
import type { CallOptions } from './pipeline.js';
import type { BatchMode, Outcome } from './transport.js';

/** One entry to store: a key, any JSON value, and its time to live in seconds (fractions allowed). */
export interface WarmEntry {
  key: string;
  value: unknown;
  /** @default the `ttl` of {@link WarmOptions}, else no expiry */
  ttl?: number;
}

/**
 * What to warm the cache with: entries you already have, or keys and a loader that fetches the value of
 * a key (from a database, an API...), called only for keys the cache does not hold.
 */
export type WarmSource =
  | { entries: Iterable<WarmEntry> | AsyncIterable<WarmEntry> }
  | {
      keys: Iterable<string> | AsyncIterable<string>;
      /** The value to cache for `key`; a thrown error (or `undefined`) fails that key only. */
      load: (key: string) => unknown;
    };

/** Options of `warm()`. */
export interface WarmOptions {
  /**
   * Seconds each entry lives, unless it has its own `ttl`.
   * @default undefined (no expiry)
   */
  ttl?: number;
  /**
   * Replace keys the cache already holds. By default only missing keys are written (`SET ... NX`), and a
   * loader is not even called for a key that exists.
   * @default false
   */
  overwrite?: boolean;
  /** Loader calls running at once. @default 8 */
  concurrency?: number;
  /** Keys checked, and entries written, per request. @default 100 */
  batchSize?: number;
  /** Called after every batch with the counts so far. @default undefined */
  onProgress?: (progress: WarmProgress) => void;
  /** Stops before the next batch; the summary then says `aborted`. @default undefined */
  signal?: AbortSignal;
  /** Deadline of each request, in milliseconds. @default the client's `timeoutMs` */
  timeoutMs?: number;
}

/** Counts so far. */
export interface WarmProgress {
  /** Entries written. */
  loaded: number;
  /** Keys left as they were: the cache held them already. */
  skipped: number;
  /** Keys not written (see {@link WarmSummary.failed} for why). */
  failed: number;
  /** All of the above. */
  done: number;
}

/** One key `warm()` could not store. */
export interface WarmFailure {
  key: string;
  /** What went wrong, in words: the loader's error, an invalid value or TTL, the cache's refusal. */
  reason: string;
  /** The error itself: the loader's own, or a CachegateError with its `code`. */
  error: unknown;
}

/** What `warm()` did. */
export interface WarmSummary {
  loaded: number;
  skipped: number;
  failed: WarmFailure[];
  /** True when `signal` stopped it before the end of the source. */
  aborted: boolean;
}

/** Sends an explicit batch through the client's transport (retries, deadline, fallback). */
export type SendBatch = (commands: Command[], mode: BatchMode, options?: CallOptions) => Promise<Outcome[]>;

/**
 * Warms a cache: reads the source in batches of `batchSize`; for keys and a loader, first asks which keys
 * exist (one `EXISTS` per key, one request) and calls the loader, `concurrency` at a time, for the missing
 * ones only; then writes the batch in one request (`SET key value [EX|PX ttl] NX`, without `NX` when
 * `overwrite`). A failure (a loader's error, a refused write, the cache unreachable) fails its keys only,
 * with its reason, and the next batch goes on. Through the hybrid client, every request takes whichever path
 * is up.
 */
export async function warm(
  send: SendBatch,
  source: WarmSource,
  options: WarmOptions = {},
): Promise<WarmSummary> {
  const batchSize = positiveInteger(options.batchSize ?? 100, 'batchSize');
  const concurrency = positiveInteger(options.concurrency ?? 8, 'concurrency');
  const call: CallOptions = {
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const summary: WarmSummary = { loaded: 0, skipped: 0, failed: [], aborted: false };
  const fail = (key: string, reason: string, error: unknown): void => {
    summary.failed.push({ key, reason, error });
  };
  const report = () => {
    const { loaded, skipped, failed } = summary;
    options.onProgress?.({ loaded, skipped, failed: failed.length, done: loaded + skipped + failed.length });
  };

  /** Writes entries in one request and counts each outcome. */
  const write = async (entries: WarmEntry[]) => {
    const commands: Command[] = [];
    const written: WarmEntry[] = [];
    for (const entry of entries) {
      try {
        const ttl = entry.ttl ?? options.ttl;
        const set = operations.set(entry.key, entry.value, {
          ...(ttl === undefined ? {} : { ttl }),
          nx: options.overwrite !== true,
        });
        commands.push(set.command);
        written.push(entry);
      } catch (error) {
        fail(entry.key, (error as Error).message, error);
      }
    }
    if (commands.length === 0) return;
    const outcomes = await sendOrFailAll(send, commands, call);
    written.forEach((entry, i) => {
      const outcome = outcomes[i] as Outcome;
      if (!outcome.ok) fail(entry.key, `not stored: ${outcome.error.message}`, outcome.error);
      else if (outcome.value === null) summary.skipped++;
      else summary.loaded++;
    });
  };

  const isAborted = () => options.signal?.aborted === true;
  if ('entries' in source) {
    for await (const batch of chunks(source.entries, batchSize)) {
      if (isAborted()) return { ...summary, aborted: true };
      await write(batch);
      report();
    }
    return summary;
  }

  for await (const keys of chunks(source.keys, batchSize)) {
    if (isAborted()) return { ...summary, aborted: true };
    let missing = keys;
    if (options.overwrite !== true) {
      const outcomes = await sendOrFailAll(
        send,
        keys.map((key) => ['EXISTS', key]),
        call,
      );
      missing = [];
      keys.forEach((key, i) => {
        const outcome = outcomes[i] as Outcome;
        if (!outcome.ok) fail(key, `not checked: ${outcome.error.message}`, outcome.error);
        else if (outcome.value === 1) summary.skipped++;
        else missing.push(key);
      });
    }
    const loaded: WarmEntry[] = [];
    await eachLimited(missing, concurrency, async (key) => {
      try {
        const value = await source.load(key);
        if (value === undefined) {
          const error = invalidArgument(
            'warm: the loader returned undefined; return null to cache "no value"',
          );
          return fail(key, error.message, error);
        }
        loaded.push({ key, value });
      } catch (error) {
        fail(key, `the loader failed: ${(error as Error)?.message ?? String(error)}`, error);
      }
    });
    await write(loaded);
    report();
  }
  return summary;
}

/** The batch's outcomes; a failure of the whole request becomes every command's. */
async function sendOrFailAll(send: SendBatch, commands: Command[], call: CallOptions): Promise<Outcome[]> {
  try {
    return await send(commands, 'pipeline', call);
  } catch (error) {
    return commands.map((): Outcome => ({ ok: false, error: error as CachegateError }));
  }
}

/** Runs `work` on every item, at most `limit` at once. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(lanes);
}

/** Groups an iterable (sync or async) into arrays of `size`. */
async function* chunks<T>(items: Iterable<T> | AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1)
    throw invalidArgument(`warm: ${name} must be a whole number >= 1, got ${value}`);
  return value;
}
