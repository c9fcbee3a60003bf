import type { Reply } from './types.js';

/** One cached reply: of one read command, on `keys`, good until `expiresAt` (`Date.now()` time). */
interface Entry {
  readonly reply: Reply;
  readonly keys: readonly string[];
  readonly bytes: number;
  readonly expiresAt: number;
  /** Read since it was stored or last passed over by eviction: it gets a second chance. */
  hot: boolean;
}

/** What a fill needs to know whether its reply may still be cached when it arrives. */
export interface FillTicket {
  readonly keys: readonly string[];
  readonly epoch: number;
}

/** Counters the metrics read. */
export interface NearCacheStats {
  hits: number;
  misses: number;
  invalidations: number;
  evictions: number;
}

/**
 * Bytes counted per entry beyond its values and names: the Map slots, the entry object, its keys array, the
 * key index. Measured: a million distinct GETs within an 8 MiB budget hold no more heap than the budget.
 */
const ENTRY_OVERHEAD = 320;

/**
 * The near cache's memory: replies of read commands by command id, within `maxBytes`, indexed by key for
 * invalidation. Eviction is CLOCK (second chance), close to least recently used without touching the Map
 * on every hit. It knows nothing of Redis; {@link NearCache} tells it
 * what Redis invalidated.
 *
 * A reply may only be stored if nothing invalidated its keys between sending the read and receiving the
 * reply (the invalidation and the reply travel on different connections, in either order): a fill takes a
 * {@link FillTicket} before it is sent, and {@link store} refuses it when one of its keys was invalidated
 * meanwhile, or everything was.
 */
export class NearCacheStore {
  readonly stats: NearCacheStats = { hits: 0, misses: 0, invalidations: 0, evictions: 0 };
  readonly #maxBytes: number;
  /** By command id, oldest first; entries read since are moved to the end by eviction. */
  readonly #entries = new Map<string, Entry>();
  /** Key → the id of the entry read from it, or a Set of ids when several are (GET k and MGET k j). */
  readonly #byKey = new Map<string, string | Set<string>>();
  #bytes = 0;
  /** Bumped by {@link clear}: fills sent before it are refused. */
  #epoch = 0;
  /** Keys with fills in flight, and how many. */
  readonly #filling = new Map<string, number>();
  /** Keys invalidated while a fill of them was in flight. */
  readonly #spoiled = new Set<string>();

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes held, bookkeeping included. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached reply of command `id`, if present and not past its TTL. Counts a hit or a miss. */
  lookup(id: string, now: number): Reply | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.expiresAt <= now) {
      if (entry !== undefined) this.#delete(id, entry);
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    entry.hot = true;
    return entry.reply;
  }

  /** Marks `keys` as being read, before the read is sent. */
  ticket(keys: readonly string[]): FillTicket {
    for (const key of keys) this.#filling.set(key, (this.#filling.get(key) ?? 0) + 1);
    return { keys, epoch: this.#epoch };
  }

  /**
   * Stores the reply of a fill unless its keys were invalidated since its ticket was taken; always ends
   * the ticket. Replies larger than a tenth of the budget are not kept, so one value cannot flush the rest.
   */
  store(id: string, ticket: FillTicket, reply: Reply, bytes: number, expiresAt: number): void {
    const fresh = this.abandon(ticket);
    let size = bytes + ENTRY_OVERHEAD + id.length * 2;
    for (const key of ticket.keys) size += key.length * 2;
    if (!fresh || size > this.#maxBytes / 10) return;
    const previous = this.#entries.get(id);
    if (previous !== undefined) this.#delete(id, previous);
    this.#entries.set(id, { reply, keys: ticket.keys, bytes: size, expiresAt, hot: false });
    this.#bytes += size;
    for (const key of ticket.keys) {
      const ids = this.#byKey.get(key);
      if (ids === undefined || ids === id) this.#byKey.set(key, id);
      else if (typeof ids === 'string') this.#byKey.set(key, new Set([ids, id]));
      else ids.add(id);
    }
    this.#evict();
  }

  /** Ends a ticket (a read that failed, or one being stored); true when nothing spoiled it. */
  abandon(ticket: FillTicket): boolean {
    let fresh = ticket.epoch === this.#epoch;
    for (const key of ticket.keys) {
      if (this.#spoiled.has(key)) fresh = false;
      const left = (this.#filling.get(key) ?? 1) - 1;
      if (left > 0) this.#filling.set(key, left);
      else {
        this.#filling.delete(key);
        this.#spoiled.delete(key);
      }
    }
    return fresh;
  }

  /** Drops every entry read from `key`, and spoils fills of it in flight. */
  invalidate(key: string): void {
    this.stats.invalidations++;
    if (this.#filling.has(key)) this.#spoiled.add(key);
    const ids = this.#byKey.get(key);
    if (ids === undefined) return;
    for (const id of typeof ids === 'string' ? [ids] : [...ids]) {
      const entry = this.#entries.get(id);
      if (entry !== undefined) this.#delete(id, entry);
    }
  }

  /** Drops everything, and spoils every fill in flight. */
  clear(): void {
    this.#epoch++;
    this.stats.invalidations += this.#entries.size;
    this.#entries.clear();
    this.#byKey.clear();
    this.#bytes = 0;
  }

  #delete(id: string, entry: Entry): void {
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
    for (const key of entry.keys) {
      const ids = this.#byKey.get(key);
      if (ids === id) this.#byKey.delete(key);
      else if (typeof ids === 'object') {
        ids.delete(id);
        if (ids.size === 0) this.#byKey.delete(key);
      }
    }
  }

  /**
   * Past the budget, evicts down to 90 % of it: a Map walk starts by skipping the slots of deleted entries,
   * so evicting in bulk keeps that cost per eviction small.
   */
  #evict(): void {
    if (this.#bytes <= this.#maxBytes) return;
    const target = this.#maxBytes * 0.9;
    for (const [id, entry] of this.#entries) {
      if (this.#bytes <= target) return;
      if (entry.hot) {
        // Read since: moved to the end (where this walk meets it again only if all else went).
        entry.hot = false;
        this.#entries.delete(id);
        this.#entries.set(id, entry);
        continue;
      }
      this.#delete(id, entry);
      this.stats.evictions++;
    }
  }
}
