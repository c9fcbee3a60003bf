import { gatewayError } from '../../errors.js';

/** The prefix of the cache API's per-key routes. */
const CACHE_PREFIX = '/v1/cache/';

/**
 * The key addressed by a `/v1/cache/<key>` path (without its query): everything after the prefix, percent-decoded as a whole,
 * so `a%2Fb` and `a/b` are both the key "a/b". Any characters are allowed; the length is bounded.
 */
export function keyFromPath(path: string, maxKeyBytes: number): string {
  const encoded = path.slice(CACHE_PREFIX.length);
  let key: string;
  try {
    key = decodeURIComponent(encoded);
  } catch {
    throw gatewayError('CG_ERR_KEY_INVALID', 'The key has malformed percent-encoding');
  }
  return checkKey(key, maxKeyBytes);
}

/** Checks a key's length in UTF-8 bytes: at least 1, at most `maxKeyBytes` (CACHEGATE_MAX_KEY_BYTES). */
export function checkKey(key: string, maxKeyBytes: number): string {
  if (key === '') throw gatewayError('CG_ERR_KEY_INVALID', 'The key is empty');
  const bytes = Buffer.byteLength(key);
  if (bytes > maxKeyBytes) {
    throw gatewayError(
      'CG_ERR_KEY_INVALID',
      `The key is ${bytes} bytes; the limit is ${maxKeyBytes} (CACHEGATE_MAX_KEY_BYTES)`,
    );
  }
  return key;
}
