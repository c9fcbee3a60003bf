import { encodeValue } from '@cachegate/client';
import { checkJsonText } from '../json-body.js';

/**
 * NDJSON entries in the cache API's shape, `{"key": "...", "value": <any JSON>, "ttl"?: seconds | null}`, one
 * per line: what `POST /v1/cache/import` takes and `cachegate warm` reads.
 */

/** A line that can be stored: `SET key text [EX ttl]`. */
export interface EntryLine {
  key: string;
  /** The stored text: the value's JSON, as the SDK's `encodeValue` writes it. */
  text: string;
  /** Seconds; undefined: no expiry. */
  ttl: number | undefined;
}

const FIELDS = ['key', 'value', 'ttl'];

/**
 * One NDJSON line checked as the cache API checks a `PUT` body, with `ttl: null` allowed (no expiry, as
 * `GET /v1/cache/:key` shows it): the key, the value's stored text (`encodeValue`, the bytes every path
 * stores) and the TTL; or why the line cannot be used.
 */
export function parseEntryLine(text: string, maxDepth: number): EntryLine | { reason: string } {
  const reject = (reason: string) => ({ reason });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return reject(`not JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return reject('must be a JSON object {"key", "value", "ttl"?}');
  }
  const fields = parsed as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!FIELDS.includes(name)) return reject(`unknown field "${name}"; allowed: ${FIELDS.join(', ')}`);
  }
  const { key, value, ttl } = fields;
  if (typeof key !== 'string' || key === '') return reject('"key" must be a non-empty string');
  if (!('value' in fields)) return reject('needs "value"');
  if (ttl !== undefined && ttl !== null && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1)) {
    return reject('"ttl" must be a whole number of seconds, at least 1, or null');
  }
  if (mayNeedChecking(text, maxDepth)) {
    try {
      checkJsonText(text, maxDepth);
    } catch (error) {
      return reject((error as Error).message);
    }
  }
  return { key, text: encodeValue(value), ttl: typeof ttl === 'number' ? ttl : undefined };
}

/**
 * Whether a line could hold what {@link checkJsonText} refuses: a number with more than 15 significant
 * digits (so 16 digits or more, maybe around a point) or an exponent, or nesting past `maxDepth`
 * (which takes more than twice that many characters). Anything else is exact in a double and shallow enough,
 * so the full check, a walk over every character, is skipped; strings that look like numbers only cost it.
 */
function mayNeedChecking(text: string, maxDepth: number): boolean {
  return text.length > 2 * maxDepth || MAYBE_INEXACT.test(text);
}

const MAYBE_INEXACT = /[\d.]{16}|\d[eE]/;
