/** A key and about how many times it was read recently (older reads count less, see {@link TopK.age}). */
export interface HotKey {
  readonly key: string;
  readonly reads: number;
}

/** Past this, what a read adds is scaled back to 1 with every count, so counts stay exact in a double. */
const RESCALE_AT = 2 ** 40;

/**
 * The most read keys of a stream, in fixed memory: the Space-Saving algorithm (Metwally, Agrawal and
 * El Abbadi, 2005) over a min-heap of `capacity` counters. A key already followed has its counter raised;
 * a new key takes the place of the least counted one and starts from that count, so a key read more often
 * than 1/capacity of all reads is always kept, and no count is ever under the key's true reads. Each read
 * costs a Map lookup and a heap step of O(log capacity).
 *
 * Aging is exponential and O(1): {@link age} doubles what a read adds from then on, so everything counted
 * before weighs half, without touching the counters.
 */
export class TopK {
  readonly capacity: number;
  /** Keys in heap order, the least counted first. */
  readonly #keys: string[] = [];
  readonly #counts: number[] = [];
  /** Key -> its position in the heap. */
  readonly #index = new Map<string, number>();
  /** What one read adds now. */
  #weight = 1;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be at least 1');
    this.capacity = capacity;
  }

  /** Keys followed. */
  get size(): number {
    return this.#keys.length;
  }

  /** Counts `reads` reads of `key` (fractions allowed: a seed counts less than a read). */
  observe(key: string, reads = 1): void {
    const add = this.#weight * reads;
    const at = this.#index.get(key);
    if (at !== undefined) {
      this.#counts[at] = (this.#counts[at] as number) + add;
      this.#down(at);
      return;
    }
    if (this.#keys.length < this.capacity) {
      this.#keys.push(key);
      this.#counts.push(add);
      this.#index.set(key, this.#keys.length - 1);
      this.#up(this.#keys.length - 1);
      return;
    }
    // The least counted key gives its place, and its count, to the new one.
    this.#index.delete(this.#keys[0] as string);
    this.#keys[0] = key;
    this.#counts[0] = (this.#counts[0] as number) + add;
    this.#index.set(key, 0);
    this.#down(0);
  }

  /** Halves the weight of every read counted so far. */
  age(): void {
    this.#weight *= 2;
    if (this.#weight < RESCALE_AT) return;
    for (let i = 0; i < this.#counts.length; i++)
      this.#counts[i] = (this.#counts[i] as number) / this.#weight;
    this.#weight = 1;
  }

  /** The `limit` most read keys, most read first (ties by key, so the order is stable). */
  top(limit = this.capacity): HotKey[] {
    const all: HotKey[] = this.#keys.map((key, i) => ({
      key,
      reads: (this.#counts[i] as number) / this.#weight,
    }));
    return byReads(all).slice(0, limit);
  }

  /** Forgets every key. */
  clear(): void {
    this.#keys.length = 0;
    this.#counts.length = 0;
    this.#index.clear();
    this.#weight = 1;
  }

  #up(at: number): void {
    let i = at;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.#counts[parent] as number) <= (this.#counts[i] as number)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(at: number): void {
    const n = this.#keys.length;
    let i = at;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      const child =
        right < n && (this.#counts[right] as number) < (this.#counts[left] as number) ? right : left;
      if ((this.#counts[i] as number) <= (this.#counts[child] as number)) return;
      this.#swap(i, child);
      i = child;
    }
  }

  #swap(a: number, b: number): void {
    const keys = this.#keys;
    const counts = this.#counts;
    const key = keys[a] as string;
    keys[a] = keys[b] as string;
    keys[b] = key;
    const count = counts[a] as number;
    counts[a] = counts[b] as number;
    counts[b] = count;
    this.#index.set(keys[a] as string, a);
    this.#index.set(keys[b] as string, b);
  }
}

/** Sums the reads of lists from several processes, key by key, most read first. */
export function mergeHotKeys(lists: readonly (readonly HotKey[])[], limit: number): HotKey[] {
  const sums = new Map<string, number>();
  for (const list of lists) for (const { key, reads } of list) sums.set(key, (sums.get(key) ?? 0) + reads);
  return byReads([...sums].map(([key, reads]) => ({ key, reads }))).slice(0, limit);
}

function byReads(keys: HotKey[]): HotKey[] {
  return keys.sort((a, b) => b.reads - a.reads || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
