import { randomBytes } from 'node:crypto';

/**
 * The `upstash-sync-token` of read-your-writes. On a single primary every acknowledged write is already
 * visible to the next read, so the token only has to change after each write; clients echo it back and the
 * gateway ignores what they send. The random prefix keeps tokens of different processes distinct.
 */
export class SyncToken {
  readonly #prefix = randomBytes(6).toString('base64url');
  #writes = 0;
  #current = `${this.#prefix}.0`;

  /** The token to send with a response; pass `wrote` = true when the request may have changed data. */
  next(wrote: boolean): string {
    if (wrote) this.#current = `${this.#prefix}.${++this.#writes}`;
    return this.#current;
  }
}
