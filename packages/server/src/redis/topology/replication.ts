import type { Reply } from '../types.js';

/** What `ROLE` says about a node. @see https://redis.io/docs/latest/commands/role/ */
export type NodeRole =
  | { readonly kind: 'primary'; readonly offset: number }
  /** `offset` is what the replica has applied; -1 while its link to the primary is down. */
  | { readonly kind: 'replica'; readonly isLinkUp: boolean; readonly offset: number };

/** Reads a `ROLE` reply; undefined for anything else (an error, a Sentinel's). */
export function parseRole(reply: Reply | undefined): NodeRole | undefined {
  if (!Array.isArray(reply)) return undefined;
  const kind = String(reply[0]);
  if (kind === 'master') {
    const offset = Number(reply[1]);
    return Number.isSafeInteger(offset) ? { kind: 'primary', offset } : undefined;
  }
  if (kind === 'slave') {
    const isLinkUp = String(reply[3]) === 'connected';
    const offset = isLinkUp ? Number(reply[4]) : -1;
    return { kind: 'replica', isLinkUp, offset: Number.isSafeInteger(offset) ? offset : -1 };
  }
  return undefined;
}

/** How long the primary's offsets are remembered: lag past this reads as this. */
const HISTORY_MS = 60_000;

/**
 * The primary's replication offset over time, so that a replica's offset tells how long it is behind: a
 * replica at offset `o` misses what the primary had when its offset first passed `o`.
 */
export class OffsetHistory {
  #times: number[] = [];
  #offsets: number[] = [];

  /** The primary's latest known offset; -1 before the first. */
  get latest(): number {
    return this.#offsets[this.#offsets.length - 1] ?? -1;
  }

  /** Notes the primary's offset as read at `now`. */
  record(offset: number, now: number): void {
    if (offset <= this.latest) return;
    this.#times.push(now);
    this.#offsets.push(offset);
    // Keep one sample older than the window: lag is measured from the first offset past the replica's.
    let drop = 0;
    while (drop < this.#times.length - 1 && now - (this.#times[drop + 1] as number) > HISTORY_MS) drop++;
    if (drop > 0) {
      this.#times.splice(0, drop);
      this.#offsets.splice(0, drop);
    }
  }

  /** Forgets everything (a new primary: its offsets are another history). */
  reset(): void {
    this.#times = [];
    this.#offsets = [];
  }

  /** Milliseconds a replica that applied `offset` is behind: 0 once it has the latest known offset. */
  lagMs(offset: number, now: number): number {
    if (offset >= this.latest) return 0;
    // Binary search for the first sample past the replica's offset.
    let low = 0;
    let high = this.#offsets.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((this.#offsets[middle] as number) > offset) high = middle;
      else low = middle + 1;
    }
    return Math.max(0, now - (this.#times[low] as number));
  }
}
