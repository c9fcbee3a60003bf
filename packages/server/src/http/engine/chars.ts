// Byte classes of HTTP/1.1 (RFC 9110 §5.6.2, RFC 9112 §3, RFC 3986 §2), as one lookup table: the parser
// tests a byte with one array read and a mask instead of a chain of comparisons or a regular expression.

export const TAB = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SPACE = 0x20;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;
export const COMMA = 0x2c;

/** `tchar`: the bytes of a token (method, field name, transfer coding, chunk extension). */
export const TOKEN = 1;
/**
 * Bytes of a request-target: visible ASCII except `#` (a fragment is never sent to a server: seeing one
 * means the sender and we may disagree on where the target ends) and `\` (some stacks read it as `/`, so a
 * path with it names different resources to different hops).
 */
export const TARGET = 2;
/** Bytes inside a field value: visible ASCII, SP, HTAB and obs-text (0x80-0xFF); never a control byte. */
export const FIELD_VALUE = 4;
/** Bytes of a Host value or an absolute-form authority (RFC 3986 reg-name, IP literal, port). */
export const AUTHORITY = 8;
/** Hexadecimal digits, for chunk sizes. */
export const HEX = 16;

/** The class bits of every byte value. */
export const CHAR_CLASS: Uint8Array = buildTable();

function buildTable(): Uint8Array {
  const table = new Uint8Array(256);
  const mark = (chars: string, bit: number) => {
    for (let i = 0; i < chars.length; i++)
      table[chars.charCodeAt(i)] = (table[chars.charCodeAt(i)] ?? 0) | bit;
  };
  const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  mark(`${alnum}!#$%&'*+-.^_\`|~`, TOKEN);
  mark(`${alnum}-._~!$&'()*+,;=:[]%`, AUTHORITY);
  mark('0123456789abcdefABCDEF', HEX);
  for (let byte = 0x21; byte <= 0x7e; byte++) {
    table[byte] = (table[byte] ?? 0) | FIELD_VALUE;
    if (byte !== 0x23 && byte !== 0x5c) table[byte] = (table[byte] ?? 0) | TARGET;
  }
  for (let byte = 0x80; byte <= 0xff; byte++) table[byte] = (table[byte] ?? 0) | FIELD_VALUE;
  table[SPACE] = (table[SPACE] ?? 0) | FIELD_VALUE;
  table[TAB] = (table[TAB] ?? 0) | FIELD_VALUE;
  return table;
}

/** The value of a hexadecimal digit (the byte must be in {@link HEX}). */
export function hexValue(byte: number): number {
  return byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x57;
}
