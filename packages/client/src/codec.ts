/**
 * The value codec shared by the SDK and the gateway's cache API, so a value written through one path reads
 * back identically through the other: every value is stored as its JSON text. A string is stored with its
 * quotes, so `"42"` stays the string "42" and never turns into the number 42.
 */

/**
 * Encodes a JSON value as the text stored in Redis.
 * @throws {TypeError} for values JSON cannot represent (undefined, functions, symbols, BigInt).
 */
export function encodeValue(value: unknown): string {
  const text = value === undefined ? undefined : JSON.stringify(value);
  if (text === undefined) throw new TypeError(`Cannot store ${typeof value} values: they have no JSON form`);
  return text;
}

/**
 * Decodes stored text back to the value. Text that is not JSON (written raw by another client, e.g.
 * `redis-cli SET k hello`) comes back as the string itself rather than failing.
 */
export function decodeValue<T = unknown>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as T;
  }
}
