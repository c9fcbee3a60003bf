/**
 * What `cachegate warm` moves, whatever the source and the destination: entries of the cache API's shape
 * (NDJSON) or whole keys of any type (DUMP of another Redis), read in batches.
 */

/** A value as the cache API stores it: `SET key <JSON text> [EX ttl]`. */
export interface ValueItem {
  readonly kind: 'value';
  readonly key: string;
  /** The stored text: the value's JSON, as the SDK's `encodeValue` writes it. */
  readonly text: string;
  /** Seconds; undefined: no expiry. */
  readonly ttl: number | undefined;
  /** Where it came from, for messages: `line 12`. */
  readonly where: string;
}

/** A key of any type, as `DUMP` gave it: `RESTORE key <ttl ms> <payload>`. */
export interface DumpItem {
  readonly kind: 'dump';
  readonly key: Buffer;
  readonly payload: Buffer;
  /** Milliseconds left; 0: no expiry. */
  readonly ttlMs: number;
  readonly where: string;
}

/**
 * NDJSON lines as read, unparsed, for a destination that checks and parses them itself (the gateway's
 * `POST /v1/cache/import`): the client then spends next to nothing per line.
 */
export interface LinesItem {
  readonly kind: 'lines';
  /** The lines, each ended by a newline; a line too long to hold is left empty (and rejected already). */
  readonly bytes: Buffer;
  /** The number of its first line. */
  readonly firstLine: number;
  readonly where: string;
}

export type Item = ValueItem | DumpItem | LinesItem;

/**
 * What writing one item did; a {@link LinesItem} has one outcome per entry line, each failure with its own
 * `where`, and `isInvalid` for a line that was not a valid entry (counted as rejected input).
 */
export type Outcome = 'loaded' | 'skipped' | { failed: string; where?: string; isInvalid?: boolean };

/** Input the source could not use (a bad line): reported and skipped, and the run then exits non-zero. */
export interface Rejected {
  readonly where: string;
  readonly reason: string;
}

/** A batch as the source produces it: cheap to make; its items may need a round trip to read. */
export interface SourceBatch {
  /** Reads the batch's items (a Redis source dumps its keys here, so that batches dump in parallel). */
  read(): Promise<{ items: Item[]; rejected: Rejected[] }>;
  /** Passed to --resume-from, reads this batch again and what follows. */
  readonly resumeFrom: string;
  /** Passed to --resume-from, reads what follows this batch. */
  readonly next: string;
  /** Units of input it holds (lines, keys), bad ones included. */
  readonly size: number;
}

/** Where items come from. */
export interface Source {
  /** Batches of about `size` units, in input order, from `resumeFrom` (the source's own position). */
  batches(size: number): AsyncIterable<SourceBatch>;
  /** How far it has read, 0 to 1, when it knows the input's size. */
  fraction(): number | undefined;
  close(): Promise<void>;
}

/** Where items go. */
export interface Target {
  /**
   * Writes a batch; one outcome per item, in order. `onlyMissing`: never replace a key that exists (it is
   * then `skipped`). Throws only for what stops the whole run (a token refused): {@link FatalError}.
   */
  write(items: Item[], onlyMissing: boolean): Promise<Outcome[]>;
  close(): Promise<void>;
}

/** A failure that no other batch would escape: the run stops (exit status 2). */
export class FatalError extends Error {
  override name = 'FatalError';
}
