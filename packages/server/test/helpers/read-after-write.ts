import type { Redis } from '@upstash/redis';

/** What a read-after-write loop saw. */
export interface ReadAfterWrite {
  rounds: number;
  /** Reads that answered an older value than the last write acknowledged for their key. */
  stale: number;
  /** Requests that failed (a failover under way): allowed, as long as none is stale. */
  failed: number;
  /** Reads answered after the last failure. */
  readsSinceFailure: number;
}

/** Reads a key back: `GET` (which the near cache may answer), or a read it never answers. */
export type KeyReader = (client: Redis, key: string) => Promise<unknown>;

/** `GET`: a cacheable read, answered from the near cache or the primary's tracked reader when it is on. */
export const viaGet: KeyReader = (client, key) => client.get(key);

/** A read-only script: never cached, so it goes to a replica that applied the caller's sync token. */
export const viaScript: KeyReader = (client, key) =>
  client.evalRo("return redis.call('GET', KEYS[1])", [key], []);

/**
 * Round after round, writes an increasing counter to each key in turn through `client` and reads it back
 * (with each of `reads` in turn), until `isDone` says so (checked after every round; `onRound` runs before
 * each). Only this loop writes the keys, so a read that answers less than the last acknowledged write is a
 * stale read; a failed write may or may not have run, so a read may be ahead of the acknowledged value,
 * never behind.
 */
export async function readAfterWrite(
  client: Redis,
  keys: string[],
  options: {
    onRound?: (round: number, seen: ReadAfterWrite) => Promise<void> | void;
    isDone: (round: number, seen: ReadAfterWrite) => boolean;
    maxRounds: number;
    reads?: KeyReader[];
  },
): Promise<ReadAfterWrite> {
  const acknowledged = new Map<string, number>();
  const seen: ReadAfterWrite = { rounds: 0, stale: 0, failed: 0, readsSinceFailure: 0 };
  for (let round = 0; round < options.maxRounds; round++) {
    await options.onRound?.(round, seen);
    const key = keys[round % keys.length] as string;
    try {
      await client.set(key, round);
      acknowledged.set(key, round);
    } catch {
      seen.failed++;
      seen.readsSinceFailure = 0;
      await new Promise((done) => setTimeout(done, 20));
      continue;
    }
    try {
      const reads = options.reads ?? [viaGet];
      const read = reads[round % reads.length] as KeyReader;
      const value = Number(await read(client, key));
      if (value < (acknowledged.get(key) ?? 0)) seen.stale++;
      seen.readsSinceFailure++;
    } catch {
      seen.failed++;
      seen.readsSinceFailure = 0;
    }
    seen.rounds = round + 1;
    if (options.isDone(round, seen)) return seen;
  }
  throw new Error(`not done after ${options.maxRounds} rounds: ${JSON.stringify(seen)}`);
}
