/**
 * The shape of a JSON text, read without building anything: how many values it holds (objects, arrays and
 * scalars, each one), how deep it nests, whether it has an object. A value parsed by JSON.parse costs the
 * heap far more than its text (`[{},{},...]` is three bytes per object and some fifty per object built), so
 * the gateway reads the shape first and refuses what would cost too much before parsing it.
 */
export interface JsonShape {
  readonly values: number;
  readonly depth: number;
  readonly hasObject: boolean;
}

/** Memory counted per JSON value once parsed, on top of its text: an object or string header, a slot. */
export const JSON_VALUE_BYTES = 32;

enum Expect {
  /** A value (at the top, after `[`, `,` in an array, or `:`). */
  Value,
  /** A value or `]`, right after `[`. */
  ValueOrEnd,
  /** A key or `}`, right after `{`. */
  KeyOrEnd,
  Key,
  Colon,
  /** `,` or the container's end, after a value. */
  Next,
}

/** The shape of `text` when it is one valid JSON document (RFC 8259), else undefined. */
export function scanJson(text: string): JsonShape | undefined {
  const containers: number[] = [];
  let expect = Expect.Value;
  let values = 0;
  let depth = 0;
  let hasObject = false;
  let i = skipSpace(text, 0);
  while (i < text.length) {
    const c = text.charCodeAt(i);
    switch (expect) {
      case Expect.Colon:
        if (c !== COLON) return undefined;
        expect = Expect.Value;
        i++;
        break;
      case Expect.Next: {
        const open = containers[containers.length - 1];
        if (open === undefined) return undefined;
        if (c === COMMA) {
          expect = open === OPEN_OBJECT ? Expect.Key : Expect.Value;
          i++;
        } else if (c === (open === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) {
          containers.pop();
          i++;
        } else return undefined;
        break;
      }
      case Expect.Key:
      case Expect.KeyOrEnd:
        if (c === CLOSE_OBJECT && expect === Expect.KeyOrEnd) {
          containers.pop();
          expect = Expect.Next;
          i++;
          break;
        }
        if (c !== QUOTE) return undefined;
        i = endOfString(text, i);
        if (i === -1) return undefined;
        expect = Expect.Colon;
        break;
      default: {
        if (c === CLOSE_ARRAY && expect === Expect.ValueOrEnd) {
          containers.pop();
          expect = Expect.Next;
          i++;
          break;
        }
        values++;
        if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
          containers.push(c);
          depth = Math.max(depth, containers.length);
          if (c === OPEN_OBJECT) hasObject = true;
          expect = c === OPEN_OBJECT ? Expect.KeyOrEnd : Expect.ValueOrEnd;
          i++;
          break;
        }
        i = c === QUOTE ? endOfString(text, i) : endOfScalar(text, i);
        if (i === -1) return undefined;
        expect = Expect.Next;
      }
    }
    i = skipSpace(text, i);
    if (containers.length === 0 && expect === Expect.Next) {
      return i === text.length ? { values, depth, hasObject } : undefined;
    }
  }
  return undefined;
}

/** Past the string that opens at `start`, or -1 when it is not a valid JSON string. */
function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c !== BACKSLASH) continue;
    const escaped = text.charCodeAt(++i);
    if (escaped === 117) {
      // \uXXXX
      for (let k = 1; k <= 4; k++) if (!isHex(text.charCodeAt(i + k))) return -1;
      i += 4;
    } else if (!ESCAPES.has(escaped)) return -1;
  }
  return -1;
}

/** Past the number or literal at `start`, or -1 when it is neither. */
function endOfScalar(text: string, start: number): number {
  for (const literal of LITERALS) if (text.startsWith(literal, start)) return start + literal.length;
  let i = start;
  if (text.charCodeAt(i) === MINUS) i++;
  if (text.charCodeAt(i) === DIGIT_0) i++;
  else if (isDigit(text.charCodeAt(i))) while (isDigit(text.charCodeAt(i))) i++;
  else return -1;
  if (text.charCodeAt(i) === DOT) {
    if (!isDigit(text.charCodeAt(++i))) return -1;
    while (isDigit(text.charCodeAt(i))) i++;
  }
  const e = text.charCodeAt(i);
  if (e === 101 || e === 69) {
    const sign = text.charCodeAt(++i);
    if (sign === PLUS || sign === MINUS) i++;
    if (!isDigit(text.charCodeAt(i))) return -1;
    while (isDigit(text.charCodeAt(i))) i++;
  }
  return i;
}

function skipSpace(text: string, from: number): number {
  let i = from;
  for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++i));
  return i;
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isHex = (c: number) => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

const LITERALS = ['true', 'false', 'null'];
/** `"`, `\`, `/`, `b`, `f`, `n`, `r`, `t` after a backslash. */
const ESCAPES = new Set([34, 92, 47, 98, 102, 110, 114, 116]);
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const DOT = 46;
const PLUS = 43;
const MINUS = 45;
const DIGIT_0 = 48;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;
