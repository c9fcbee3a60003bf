// The loops that read a request byte by byte (or word by word), each returning where its run of bytes
// ends. Small and apart from the line parsers on purpose: inlined into a large function, V8 kept the loop
// variables in memory; and the byte table is this module's own `const` (see chars.ts).
import { buildCharClasses, CharClass } from './chars.js';

const CHAR_CLASS = buildCharClasses();
const { TOKEN, TARGET, FIELD_VALUE, AUTHORITY, HEX, WHITESPACE } = CharClass;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;

/** Returned by {@link skipChunkExtensions}: the bytes end inside the extensions. */
export const MORE_BYTES_NEEDED = -1;
/** Returned by {@link skipChunkExtensions}: an extension with an empty name or value. */
export const MALFORMED = -3;

function skip(buf: Buffer, from: number, end: number, mask: number): number {
  let i = from;
  while (i < end && (CHAR_CLASS[buf[i] as number] as number) & mask) i++;
  return i;
}

/** The end of the token (method, field name) starting at `from`: the first non-`tchar` byte, or `end`. */
export function skipToken(buf: Buffer, from: number, end: number): number {
  return skip(buf, from, end, TOKEN);
}

/** The end of a request-target's bytes starting at `from` (see `CharClass.TARGET`), or `end`. */
export function skipTarget(buf: Buffer, from: number, end: number): number {
  return skip(buf, from, end, TARGET);
}

/** The first byte from `from` on that is neither SP nor HTAB, or `end`. */
export function skipWhitespace(buf: Buffer, from: number, end: number): number {
  return skip(buf, from, end, WHITESPACE);
}

/** The end of the hexadecimal digits starting at `from`, or `end`. */
export function skipHexDigits(buf: Buffer, from: number, end: number): number {
  return skip(buf, from, end, HEX);
}

/** Whether every byte from `start` to `end` may be in a Host value (reg-name or IP literal, port). */
export function isAuthority(buf: Buffer, start: number, end: number): boolean {
  return skip(buf, start, end, AUTHORITY) === end;
}

/**
 * The first byte from `from` on that may not be in a field value, or `end`. Four bytes at a time while
 * none is a control byte (HTAB included, and the CR that ends the line) or DEL, with the classic "has a
 * byte less than n" word test, which is exact for whether any byte is; then byte by byte. Bytes of
 * obs-text (0x80-0xFF) pass.
 */
export function skipFieldValue(buf: Buffer, view: DataView, from: number, end: number): number {
  let i = from;
  for (const last = end - 4; i <= last; i += 4) {
    const word = view.getInt32(i, true);
    const delXor = word ^ 0x7f7f7f7f;
    if ((((word - 0x20202020) & ~word) | ((delXor - 0x01010101) & ~delXor)) & 0x80808080) break;
  }
  return skip(buf, i, end, FIELD_VALUE);
}

/**
 * Skips `;name` or `;name=value` chunk extensions (tokens only, no whitespace, no quoted strings: stricter
 * than RFC 9112 §7.1.1 allows, and nothing reads them). Returns the index of the byte after them,
 * MORE_BYTES_NEEDED, or MALFORMED for an empty name or value.
 */
export function skipChunkExtensions(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end && buf[i] === SEMICOLON) {
    const nameStart = ++i;
    i = skip(buf, i, end, TOKEN);
    if (i === end) return MORE_BYTES_NEEDED;
    if (i === nameStart) return MALFORMED;
    if (buf[i] !== EQUALS) continue;
    const valueStart = ++i;
    i = skip(buf, i, end, TOKEN);
    if (i === end) return MORE_BYTES_NEEDED;
    if (i === valueStart) return MALFORMED;
  }
  return i === end ? MORE_BYTES_NEEDED : i;
}
