// Byte classes of HTTP/1.1 (RFC 9110 §5.6.2, RFC 9112 §3, RFC 3986 §2), as one lookup table: the parser
// tests a byte with one array read and a mask instead of a chain of comparisons or a regular expression.
//
// Modules that scan bytes build their own table (`const CHAR_CLASS = buildCharClasses()`) and spell their
// byte constants out: V8 compiles a module's own `const` typed array and numbers into the loop as
// constants, while an imported binding is loaded and checked on every byte (measured: twice the
// instructions per byte).

/** The classes a byte may belong to, one bit each. */
export const CharClass = {
  /** `tchar`: the bytes of a token (method, field name, transfer coding, chunk extension). */
  TOKEN: 1,
  /**
   * Bytes of a request-target: visible ASCII except `#` (a fragment is never sent to a server: seeing one
   * means the sender and we may disagree on where the target ends) and `\` (some stacks read it as `/`, so
   * a path with it names different resources to different hops).
   */
  TARGET: 2,
  /** Bytes inside a field value: visible ASCII, SP, HTAB and obs-text (0x80-0xFF); never a control byte. */
  FIELD_VALUE: 4,
  /** Bytes of a Host value or an absolute-form authority (RFC 3986 reg-name, IP literal, port). */
  AUTHORITY: 8,
  /** Hexadecimal digits, for chunk sizes. */
  HEX: 16,
  /** SP and HTAB: optional whitespace around field values. */
  WHITESPACE: 32,
} as const;

/** The class bits of every byte value: a new table, for the calling module to keep as its own `const`. */
export function buildCharClasses(): Uint8Array {
  const table = new Uint8Array(256);
  const mark = (chars: string, bit: number) => {
    for (let i = 0; i < chars.length; i++)
      table[chars.charCodeAt(i)] = (table[chars.charCodeAt(i)] ?? 0) | bit;
  };
  const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  mark(`${alnum}!#$%&'*+-.^_\`|~`, CharClass.TOKEN);
  mark(`${alnum}-._~!$&'()*+,;=:[]%`, CharClass.AUTHORITY);
  mark('0123456789abcdefABCDEF', CharClass.HEX);
  for (let byte = 0x21; byte <= 0x7e; byte++) {
    table[byte] = (table[byte] ?? 0) | CharClass.FIELD_VALUE;
    if (byte !== 0x23 && byte !== 0x5c) table[byte] = (table[byte] ?? 0) | CharClass.TARGET;
  }
  for (let byte = 0x80; byte <= 0xff; byte++) table[byte] = (table[byte] ?? 0) | CharClass.FIELD_VALUE;
  table[0x20] = (table[0x20] ?? 0) | CharClass.FIELD_VALUE | CharClass.WHITESPACE;
  table[0x09] = (table[0x09] ?? 0) | CharClass.FIELD_VALUE | CharClass.WHITESPACE;
  return table;
}

/** The value of a hexadecimal digit (the byte must be in {@link HEX}). */
export function hexValue(byte: number): number {
  return byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x57;
}
