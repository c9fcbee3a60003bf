import { randomBytes } from 'node:crypto';
import type { BatchResult } from '../../core/executor.js';
import { NOTHING_SEEN, type SyncPoint, UNKNOWN_SEEN } from '../../redis/sync-point.js';

/** Version prefix of the tokens that carry replication offsets. */
const PREFIX = 'cg1';
/** One shard's entry: `<shard id>-<offset>`. */
const ENTRY = /^(\d{1,5})-(\d{1,16})$/;
/** A Cluster shard per entry at most; more is no token this gateway wrote. */
const MAX_ENTRIES = 1024;

/**
 * The `upstash-sync-token` of read-your-writes (decision 0021). `@upstash/redis` sends back the token of
 * the last answer it got, and takes the next answer's, whether it wrote or read.
 *
 * - Reading from the primary only (the default), every acknowledged write is already visible to the next
 *   read: the token only has to change after each write, and the gateway ignores what clients send. The
 *   random prefix keeps tokens of different processes distinct.
 * - Reading from replicas, the token says how far the primary's replication stream had got once the
 *   caller's writes ran, per shard: `cg1.<shard>-<offset>...` (`cg1` alone: nothing seen). A write answers
 *   with the offsets it reached; a read echoes what it was sent. Any gateway in front of the same Redis
 *   reads it the same way. A token it cannot read may stand for anything: such a caller reads from
 *   primaries until its next write.
 */
export class SyncToken {
  readonly #prefix = randomBytes(6).toString('base64url');
  #writes = 0;
  #current = `${this.#prefix}.0`;

  /** @param readsFromReplicas CACHEGATE_READ_FROM=replicas: tokens carry replication offsets. */
  constructor(private readonly readsFromReplicas = false) {}

  /** What a request's token says its caller has seen; undefined without one, or when tokens are not read. */
  seen(header: string | string[] | undefined): SyncPoint | undefined {
    if (!this.readsFromReplicas || typeof header !== 'string' || header === '') return undefined;
    return parseSyncToken(header);
  }

  /** The token to answer a request with, which sent `header` and got `batch`. */
  answer(header: string | string[] | undefined, batch: BatchResult): string {
    if (!this.readsFromReplicas) return this.next(batch.wrote);
    if (batch.reached !== undefined) return formatSyncToken(batch.reached);
    const seen = this.seen(header);
    // A token this gateway cannot read goes back as it came: it still stands for whatever it stood for.
    if (seen === UNKNOWN_SEEN) return header as string;
    return formatSyncToken(seen ?? NOTHING_SEEN);
  }

  /** The token to send with a response when tokens carry no offsets; `wrote`: the request may have written. */
  next(wrote: boolean): string {
    if (wrote) this.#current = `${this.#prefix}.${++this.#writes}`;
    return this.#current;
  }
}

/** `cg1.<shard>-<offset>...`, shards in order. */
export function formatSyncToken(point: SyncPoint): string {
  let token = PREFIX;
  const shards = [...point.keys()].sort((a, b) => Number(a) - Number(b));
  for (const shard of shards) token += `.${shard}-${point.get(shard)}`;
  return token;
}

/** Reads a token {@link formatSyncToken} wrote; {@link UNKNOWN_SEEN} for anything else. */
export function parseSyncToken(token: string): SyncPoint {
  const parts = token.split('.');
  if (parts[0] !== PREFIX || parts.length > MAX_ENTRIES + 1) return UNKNOWN_SEEN;
  const point = new Map<string, number>();
  for (let i = 1; i < parts.length; i++) {
    const match = ENTRY.exec(parts[i] as string);
    if (match === null) return UNKNOWN_SEEN;
    const offset = Number(match[2]);
    if (!Number.isSafeInteger(offset)) return UNKNOWN_SEEN;
    point.set(String(Number(match[1])), offset);
  }
  return point;
}
