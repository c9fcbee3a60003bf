import * as crypto from 'node:crypto';

/**
 * `Cache-Control` of a validated answer: `private` keeps shared caches (proxies, CDNs) from storing an
 * answer that a token authorized, and `no-cache` makes a browser's own cache revalidate before every use.
 */
export const VALIDATED_CACHE_CONTROL = 'private, no-cache';

// crypto.hash (Node >= 20.12) skips the Hash object: about half the cost of createHash on a small body.
const sha1: (body: string | Buffer) => string =
  typeof crypto.hash === 'function'
    ? (body) => crypto.hash('sha1', body, 'base64url')
    : (body) => crypto.createHash('sha1').update(body).digest('base64url');

/**
 * The strong entity tag of an answer's body: a quoted SHA-1 of its exact bytes, base64url. Strong because
 * the gateway's bodies are deterministic for a value; a different representation of the same value (base64,
 * RESP2) is different bytes and so a different tag.
 * @see https://www.rfc-editor.org/rfc/rfc9110#name-etag
 */
export function entityTag(body: string | Buffer): string {
  return `"${sha1(body)}"`;
}

/**
 * Whether an `If-None-Match` field value matches `tag`: `*`, or a list member equal to it under the weak
 * comparison RFC 9110 prescribes for If-None-Match (a `W/` prefix is ignored). Splitting on commas is
 * exact here because our tags are base64url, with no comma in them.
 * @see https://www.rfc-editor.org/rfc/rfc9110#name-if-none-match
 */
export function noneMatchHits(field: string, tag: string): boolean {
  for (const member of field.split(',')) {
    const candidate = member.trim();
    if (candidate === tag || candidate === '*' || (candidate.startsWith('W/') && candidate.slice(2) === tag))
      return true;
  }
  return false;
}
