import { CachegateHttpError } from './errors.js';

const utf8 = new TextDecoder('utf-8');

/**
 * Decodes a result the gateway sent with `Upstash-Encoding: base64`: every string, at every depth, is the
 * base64 of the reply's exact bytes; integers and null are raw. Bytes are then read as UTF-8 the way
 * node-redis reads them on the direct path (invalid sequences become U+FFFD in both), so both transports
 * return the same strings. The base64 round trip keeps bytes out of JSON's string escaping entirely.
 */
export function decodeBase64Result(value: unknown): unknown {
  if (typeof value === 'string') return decodeBase64Text(value);
  if (Array.isArray(value)) return value.map(decodeBase64Result);
  return value;
}

function decodeBase64Text(text: string): string {
  let binary: string;
  try {
    // atob is the one base64 decoder common to Node >= 16, browsers and edge runtimes.
    binary = atob(text);
  } catch (cause) {
    throw new CachegateHttpError(
      'CG_ERR_RESPONSE_INVALID',
      200,
      'The server ignored "Upstash-Encoding: base64": a result string is not base64',
      { cause },
    );
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return utf8.decode(bytes);
}
