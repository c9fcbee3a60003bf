/**
 * How far the replication streams had got, per shard: shard id -> replication offset (Redis's
 * `master_repl_offset`). A write's sync point says what a replica must have applied to show that write; a
 * caller's says what it has seen (decision 0021). Standalone and Sentinel have one shard, `0`; a Cluster
 * shard is named by the first hash slot its master serves.
 */
export type SyncPoint = ReadonlyMap<string, number>;

/** Nothing seen: any replica may answer. */
export const NOTHING_SEEN: SyncPoint = new Map();

/**
 * A sync point the gateway cannot read (a token from another gateway that does not read from replicas, or
 * of another Redis): the caller may have seen anything, so only primaries answer it.
 */
export const UNKNOWN_SEEN: SyncPoint = new Map([['*', Number.POSITIVE_INFINITY]]);

/**
 * The offset of a write whose primary would not say how far it got (ROLE refused): no replica can be known
 * to hold it, so its writer reads from the primary until its next write.
 */
export const UNKNOWN_OFFSET = Number.MAX_SAFE_INTEGER;

/** The offset a replica of `shard` must have applied for the caller; 0 when the caller saw nothing there. */
export function offsetFor(seen: SyncPoint | undefined, shard: string): number {
  if (seen === undefined || seen.size === 0) return 0;
  return seen.get(shard) ?? seen.get('*') ?? 0;
}

/** Both sync points at once: for each shard the larger offset. */
export function mergeSyncPoints(a: SyncPoint | undefined, b: SyncPoint | undefined): SyncPoint {
  if (a === undefined || a.size === 0) return b ?? NOTHING_SEEN;
  if (b === undefined || b.size === 0) return a;
  const merged = new Map(a);
  for (const [shard, offset] of b) merged.set(shard, Math.max(offset, merged.get(shard) ?? 0));
  return merged;
}
