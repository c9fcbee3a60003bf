import { RESERVED_PREFIX } from '../auth/namespace.js';
import type { ServedReadsObserver } from '../core/served-reads.js';
import type { PlannedCommand } from '../redis/backend.js';
import { keysOf } from '../redis/command-table.js';
import { ErrorReply } from '../redis/resp.js';
import type { Reply } from '../redis/types.js';
import { type HotKey, TopK } from './top-k.js';

/** Longer keys are not followed, so that the sketch's memory stays fixed: capacity x this, at most. */
export const MAX_FOLLOWED_KEY_LENGTH = 1024;

/**
 * The keys each database's callers read most: one {@link TopK} per database (the main Redis is `default`),
 * fed by the executor with every batch it answered. Only reads count (commands Redis flags `readonly`),
 * and only those that found something: a miss (nil, an error) says nothing about what to warm. Keys of
 * MGET count one by one, found or not. Reserved keys and keys longer than {@link MAX_FOLLOWED_KEY_LENGTH}
 * characters are left out.
 */
export class HotSet implements ServedReadsObserver {
  readonly capacity: number;
  readonly #sketches = new Map<string, TopK>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  served(database: string, commands: readonly PlannedCommand[], replies: readonly Reply[]): void {
    let sketch: TopK | undefined;
    for (let i = 0; i < commands.length; i++) {
      const { info, args } = commands[i] as PlannedCommand;
      if (info === undefined || !info.isReadonly || info.keyFinders.length === 0) continue;
      const reply = replies[i];
      if (reply === null || reply === undefined || reply instanceof ErrorReply) continue;
      sketch ??= this.#sketch(database);
      if (info.name === 'mget' && Array.isArray(reply)) {
        for (let k = 1; k < args.length; k++) if (reply[k - 1] !== null) follow(sketch, args[k]);
        continue;
      }
      for (const key of keysOf(info, args)) follow(sketch, key);
    }
  }

  /** This process's most read keys of `database`, most read first. */
  top(database: string, limit = this.capacity): HotKey[] {
    return this.#sketches.get(database)?.top(limit) ?? [];
  }

  /**
   * Counts a hot set saved earlier, below any real read: the first key weighs just under one read, the
   * last next to nothing, so their order survives until this process has read enough to know better.
   */
  seed(database: string, keys: readonly string[]): void {
    const sketch = this.#sketch(database);
    // Least hot first: a full sketch drops the least counted when a new key comes.
    for (let i = keys.length - 1; i >= 0; i--)
      follow(sketch, keys[i] as string, (keys.length - i) / (keys.length + 1));
  }

  /** Halves the weight of everything read so far, in every database. */
  age(): void {
    for (const sketch of this.#sketches.values()) sketch.age();
  }

  #sketch(database: string): TopK {
    let sketch = this.#sketches.get(database);
    if (sketch === undefined) {
      sketch = new TopK(this.capacity);
      this.#sketches.set(database, sketch);
    }
    return sketch;
  }
}

function follow(sketch: TopK, key: unknown, reads = 1): void {
  if (typeof key !== 'string' || key.length > MAX_FOLLOWED_KEY_LENGTH || key.startsWith(RESERVED_PREFIX))
    return;
  sketch.observe(key, reads);
}
