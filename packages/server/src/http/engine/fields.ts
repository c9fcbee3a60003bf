// Readers of the few request parts whose meaning the parser needs, straight from the bytes (no strings).
import { buildCharClasses, CharClass } from './chars.js';

const CHAR_CLASS = buildCharClasses();
const { TOKEN, AUTHORITY } = CharClass;
const TAB = 0x09;
const SPACE = 0x20;
const COMMA = 0x2c;

/** Tokens of a `Connection` value that change how the connection is kept. */
export const Flag = { close: 1, keepAlive: 2, upgrade: 4 } as const;

/**
 * The {@link Flag}s named in a `Connection` value: a comma-separated list of tokens with optional
 * whitespace around each, compared case-insensitively. -1 when an element is not a token: a reader that
 * skips the odd element and one that gives up on the whole value would keep the connection differently.
 */
export function connectionFlags(buf: Uint8Array, start: number, end: number): number {
  let flags = 0;
  let i = start;
  while (i < end) {
    while (i < end && isListSeparator(buf[i] as number)) i++;
    const tokenStart = i;
    while (i < end && (CHAR_CLASS[buf[i] as number] as number) & TOKEN) i++;
    const tokenEnd = i;
    while (i < end && (buf[i] === SPACE || buf[i] === TAB)) i++;
    if (i < end && buf[i] !== COMMA) return -1;
    if (equalsLowerCase(buf, tokenStart, tokenEnd, 'close')) flags |= Flag.close;
    else if (equalsLowerCase(buf, tokenStart, tokenEnd, 'keep-alive')) flags |= Flag.keepAlive;
    else if (equalsLowerCase(buf, tokenStart, tokenEnd, 'upgrade')) flags |= Flag.upgrade;
  }
  return flags;
}

function isListSeparator(byte: number): boolean {
  return byte === COMMA || byte === SPACE || byte === TAB;
}

/**
 * Whether the bytes spell `word` (lower-case letters, digits and `-`) in any case. `byte | 0x20` maps only
 * the two cases of a letter onto it; for a digit or `-` it is the byte itself or a control byte, and
 * control bytes never reach here (field values exclude them).
 */
export function equalsLowerCase(buf: Uint8Array, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    if (((buf[start + i] as number) | 0x20) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether the bytes are exactly `word`. */
export function equalsExactly(buf: Uint8Array, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (buf[start + i] !== word.charCodeAt(i)) return false;
  return true;
}

/**
 * The minor version of `HTTP/1.0` (0) or `HTTP/1.1` (1); -2 for another well-formed version (505), -1 for
 * anything else (400). The name is case-sensitive (RFC 9112 §2.3).
 */
export function versionMinorOf(buf: Uint8Array, start: number, end: number): 0 | 1 | -1 | -2 {
  if (!equalsExactly(buf, start, start + 5, 'HTTP/') || end - start !== 8 || buf[start + 6] !== 0x2e)
    return -1;
  const major = (buf[start + 5] as number) - 0x30;
  const minor = (buf[start + 7] as number) - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) return -1;
  if (major !== 1 || minor > 1) return -2;
  return minor === 1 ? 1 : 0;
}

/**
 * Whether a target is absolute-form (RFC 9112 §3.2.2): `http://` or `https://`, a non-empty authority
 * without userinfo (`user@` makes one URL name two hosts to different readers), then nothing, a path or a
 * query. The target's bytes are already known to be valid target bytes.
 */
export function isAbsoluteForm(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < 8) return false;
  let i = start + 4;
  if (!equalsLowerCase(buf, start, i, 'http')) return false;
  if (((buf[i] as number) | 0x20) === 0x73 /* 's' */) i++;
  if (!equalsExactly(buf, i, i + 3, '://')) return false;
  i += 3;
  const authorityStart = i;
  while (i < end && (CHAR_CLASS[buf[i] as number] as number) & AUTHORITY) i++;
  if (i === authorityStart) return false;
  return i === end || buf[i] === 0x2f /* '/' */ || buf[i] === 0x3f; /* '?' */
}
