/**
 * The cache API's value format: a value is stored as its JSON text, exactly the bytes `@cachegate/client`
 * writes (its `encodeValue`), so the cache API, the command API and the SDK read each other's entries. The
 * format, not a shared module, is the contract (decision 0206): the server carries these few lines itself
 * so that its package installs without the SDK's, and a test checks both encoders byte for byte.
 * @throws {TypeError} for a value with no JSON form (undefined, a function, a symbol).
 */
export function encodeValue(value: unknown): string {
  const text = value === undefined ? undefined : JSON.stringify(value);
  if (text === undefined) throw new TypeError(`Cannot store ${typeof value} values: they have no JSON form`);
  return text;
}
