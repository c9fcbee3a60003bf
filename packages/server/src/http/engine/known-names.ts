// The method names and header names the parser knows, matched straight from the bytes. A known header
// name costs no string (the shared one is used) and is matched four bytes at a time, which also proves its
// bytes valid: the per-byte scan is left for names nobody sends every day.

/**
 * The methods the gateway serves. Any other token is refused with 501 before its headers are read: the
 * routes need no more, and every one of these is a method llhttp knows, so the engine never accepts a
 * request line node:http would refuse. CONNECT (a tunnel) and TRACE (reflects the request) are left out.
 */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const;

/** Lower-case header names seen on nearly every request (letters and `-` only). */
export const COMMON_NAMES = [
  'host',
  'connection',
  'content-length',
  'content-type',
  'transfer-encoding',
  'expect',
  'authorization',
  'accept',
  'accept-encoding',
  'accept-language',
  'user-agent',
  'origin',
  'referer',
  'cookie',
  'cache-control',
  'if-none-match',
  'keep-alive',
  'upgrade',
  'x-api-key',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'upstash-encoding',
  'upstash-sync-token',
  'upstash-telemetry-sdk',
  'upstash-telemetry-runtime',
  'upstash-telemetry-platform',
  'access-control-request-method',
  'access-control-request-headers',
] as const;

/** `matchCommonName`: no common name starts the line. */
export const NO_MATCH = -1;
/** `matchCommonName`: the bytes end before a candidate could be compared whole. */
export const TOO_SHORT = -2;

// Each name followed by its colon, as little-endian 32-bit words, the bytes past its end masked off. A
// word matches when `((word | fold) & keep) === expected`: `fold` holds 0x20 where the name has a letter,
// so an upper-case letter matches its lower-case one and nothing else does; `-` and `:` match exactly.
// One table (per name: its word count, then expected, fold, keep for each word), so that the matching
// loop reads one typed array: each costs V8 a map check and a reload of its data pointer per read.
const TABLE = new Int32Array(COMMON_NAMES.reduce((sum, name) => sum + 1 + 3 * wordCount(name), 0));
/**
 * The names by a hash of their first word, folded (`| 0x20202020`), as [name index, table offset, ...],
 * so that a line is compared with few of them. An array, not a Map: most folded words are beyond V8's
 * small integers, and as a Map key each would be a new heap number per lookup.
 */
const BY_FIRST_WORD: (number[] | undefined)[] = new Array(1024);
buildTable();

function bucketOf(firstWord: number): number {
  return Math.imul(firstWord | 0x20202020, 0x9e3779b1) >>> 22;
}

function wordCount(name: string): number {
  return Math.ceil((name.length + 1) / 4);
}

function buildTable() {
  let at = 0;
  for (const [index, name] of COMMON_NAMES.entries()) {
    const bytes = `${name}:`;
    const offset = at;
    TABLE[at++] = wordCount(name);
    for (let w = 0; w < wordCount(name); w++) {
      let word = 0;
      let fold = 0;
      let keep = 0;
      for (let b = 0; b < 4 && w * 4 + b < bytes.length; b++) {
        const code = bytes.charCodeAt(w * 4 + b);
        word |= code << (8 * b);
        keep |= 0xff << (8 * b);
        if (code >= 0x61 && code <= 0x7a) fold |= 0x20 << (8 * b);
      }
      TABLE[at++] = word;
      TABLE[at++] = fold;
      TABLE[at++] = keep;
    }
    const bucket = bucketOf(TABLE[offset + 1] as number);
    const same = BY_FIRST_WORD[bucket];
    if (same === undefined) BY_FIRST_WORD[bucket] = [index, offset];
    else same.push(index, offset);
  }
}

/**
 * The index in {@link COMMON_NAMES} of the name that starts the line at `start`, colon included and
 * letters in any case; NO_MATCH, or TOO_SHORT when the bytes before `end` could not tell.
 */
export function matchCommonName(view: DataView, start: number, end: number): number {
  if (start + 4 > end) return TOO_SHORT;
  const candidates = BY_FIRST_WORD[bucketOf(view.getInt32(start, true))];
  if (candidates === undefined) return NO_MATCH;
  let result = NO_MATCH;
  for (let c = 0; c < candidates.length; c += 2) {
    let at = candidates[c + 1] as number;
    const count = TABLE[at++] as number;
    if (start + count * 4 > end) {
      result = TOO_SHORT;
      continue;
    }
    const stop = at + count * 3;
    let p = start;
    while (
      at < stop &&
      ((view.getInt32(p, true) | (TABLE[at + 1] as number)) & (TABLE[at + 2] as number)) === TABLE[at]
    ) {
      at += 3;
      p += 4;
    }
    if (at === stop) return candidates[c] as number;
  }
  return result;
}

/**
 * The shared string for a header name when it is a common one, compared byte by byte: for names the
 * word match could not decide. The bytes must already be known to be token characters (then
 * `byte | 0x20` equals a lower-case letter only for that letter in either case, and `-` only for `-`).
 */
export function commonHeaderName(buf: Uint8Array, start: number, end: number): string | undefined {
  outer: for (const name of COMMON_NAMES) {
    if (name.length !== end - start) continue;
    for (let i = 0; i < name.length; i++) {
      if (((buf[start + i] as number) | 0x20) !== name.charCodeAt(i)) continue outer;
    }
    return name;
  }
  return undefined;
}

/** The method's shared string, compared case-sensitively (methods are); undefined when not served. */
export function knownMethod(buf: Uint8Array, start: number, end: number): string | undefined {
  outer: for (const method of METHODS) {
    if (method.length !== end - start) continue;
    for (let i = 0; i < method.length; i++) {
      if (buf[start + i] !== method.charCodeAt(i)) continue outer;
    }
    return method;
  }
  return undefined;
}
