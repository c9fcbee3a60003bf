import { ErrorReply } from '../redis/resp.js';
import type { Reply } from '../redis/types.js';

/**
 * The JSON text of a reply in its Upstash shape: strings, integers, null and nested arrays only. With
 * `base64`, every string at every depth is the base64 of its exact bytes (status replies such as OK
 * included); without, bytes are read as UTF-8. Integers and null are never encoded, and integers past
 * 2^53 keep every digit. An error nested inside a reply (a script's table) becomes its message, a string
 * like any other. Written as text in one pass: the parser bounds the depth (CACHEGATE_MAX_JSON_DEPTH), so
 * the recursion here is bounded too.
 */
export function resultJson(reply: Reply, base64: boolean): string {
  if (reply === null) return 'null';
  switch (typeof reply) {
    case 'number':
    case 'bigint':
      return String(reply);
    case 'string':
      return jsonString(base64 ? Buffer.from(reply).toString('base64') : reply);
  }
  if (Buffer.isBuffer(reply)) return jsonString(reply.toString(base64 ? 'base64' : 'utf8'));
  if (reply instanceof ErrorReply) return resultJson(reply.message, base64);
  let text = '[';
  for (let i = 0; i < reply.length; i++) {
    if (i > 0) text += ',';
    text += resultJson(reply[i] ?? null, base64);
  }
  return `${text}]`;
}

/** Characters a JSON string must escape. Decoded UTF-8 holds no lone surrogate, the one other case. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

/** A string as JSON: most values need no escaping, and quoting them is cheaper than JSON.stringify. */
function jsonString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** One entry of a `/pipeline` or `/multi-exec` response: `{"error"}` for a Redis error (never base64), else `{"result"}`. */
export function pipelineItemJson(reply: Reply, base64: boolean): string {
  return reply instanceof ErrorReply
    ? `{"error":${JSON.stringify(reply.message)}}`
    : `{"result":${resultJson(reply, base64)}}`;
}

/**
 * The UTF-8 length of `resultJson(reply, base64)`, computed without building it: large answers are sized
 * first (escapes and base64 make them larger than the reply, up to six times for control characters), so
 * that one over the cap is refused before any of it is made, and one within it is sent with its length.
 */
export function resultJsonLength(reply: Reply, base64: boolean): number {
  if (reply === null) return 4;
  switch (typeof reply) {
    case 'number':
    case 'bigint':
      return String(reply).length;
    case 'string':
      return base64 ? base64Length(Buffer.byteLength(reply)) : jsonStringLength(reply);
  }
  if (Buffer.isBuffer(reply)) {
    return base64 ? base64Length(reply.length) : jsonStringLength(reply.toString('utf8'));
  }
  if (reply instanceof ErrorReply) return resultJsonLength(reply.message, base64);
  let length = 2 + Math.max(0, reply.length - 1);
  for (const item of reply) length += resultJsonLength(item, base64);
  return length;
}

/**
 * A bound on {@link resultJsonLength} found without reading any string: six bytes per character or byte
 * (the longest escape, `\u0000`), base64's exact length. When it is within the cap, the answer is sent
 * without being sized (chunked); only one that might be over the cap pays for the exact count.
 */
export function resultJsonBound(reply: Reply, base64: boolean): number {
  if (reply === null) return 4;
  switch (typeof reply) {
    case 'number':
    case 'bigint':
      return String(reply).length;
    case 'string':
      return base64 ? base64Length(reply.length * 3) : reply.length * 6 + 2;
  }
  if (Buffer.isBuffer(reply)) return base64 ? base64Length(reply.length) : reply.length * 6 + 2;
  if (reply instanceof ErrorReply) return resultJsonBound(reply.message, base64);
  let length = 2 + Math.max(0, reply.length - 1);
  for (const item of reply) length += resultJsonBound(item, base64);
  return length;
}

/** `{"result":...}` or `{"error":...}` of {@link pipelineItemJson}, sized like {@link resultJsonLength}. */
export function pipelineItemLength(reply: Reply, base64: boolean): number {
  return reply instanceof ErrorReply
    ? 10 + jsonStringLength(reply.message)
    : 11 + resultJsonLength(reply, base64);
}

/**
 * The text of `resultJson(reply, base64)` in pieces of about {@link PIECE_CHARS} characters, a long string
 * cut into several, so that a large answer is written a slice at a time (see RequestContext.sendPieces)
 * instead of being built whole.
 */
export function* resultJsonPieces(reply: Reply, base64: boolean): Generator<string> {
  let pending = '';
  for (const part of jsonParts(reply, base64)) {
    pending += part;
    if (pending.length >= PIECE_CHARS) {
      yield pending;
      pending = '';
    }
  }
  if (pending !== '') yield pending;
}

/** `{"result":...}` or `{"error":...}` in pieces, as {@link resultJsonPieces}. */
export function* pipelineItemPieces(reply: Reply, base64: boolean): Generator<string> {
  if (reply instanceof ErrorReply) {
    yield pipelineItemJson(reply, base64);
    return;
  }
  yield '{"result":';
  yield* resultJsonPieces(reply, base64);
  yield '}';
}

/** Characters per piece of a sliced answer: small enough to write between other work, large enough to be cheap. */
export const PIECE_CHARS = 64 * 1024;

function* jsonParts(reply: Reply, base64: boolean): Generator<string> {
  if (reply === null || typeof reply === 'number' || typeof reply === 'bigint') {
    yield String(reply);
    return;
  }
  if (reply instanceof ErrorReply) {
    yield* jsonParts(reply.message, base64);
    return;
  }
  if (Array.isArray(reply)) {
    yield '[';
    for (let i = 0; i < reply.length; i++) {
      if (i > 0) yield ',';
      yield* jsonParts(reply[i] ?? null, base64);
    }
    yield ']';
    return;
  }
  const bytes = base64 ? (Buffer.isBuffer(reply) ? reply : Buffer.from(reply)) : undefined;
  if (bytes !== undefined) {
    if (bytes.length <= PIECE_CHARS) {
      yield `"${bytes.toString('base64')}"`;
      return;
    }
    yield '"';
    // Cut at multiples of 3 bytes, so that the pieces' base64 joins into the whole's.
    const step = PIECE_CHARS - (PIECE_CHARS % 3);
    for (let start = 0; start < bytes.length; start += step)
      yield bytes.toString('base64', start, Math.min(bytes.length, start + step));
    yield '"';
    return;
  }
  const text = typeof reply === 'string' ? reply : reply.toString('utf8');
  if (text.length <= PIECE_CHARS) {
    yield jsonString(text);
    return;
  }
  yield '"';
  for (let start = 0; start < text.length; ) {
    let end = Math.min(text.length, start + PIECE_CHARS);
    // Never between the halves of a surrogate pair: each half alone would be escaped as a lone surrogate.
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
    const piece = text.slice(start, end);
    yield NEEDS_ESCAPE.test(piece) ? JSON.stringify(piece).slice(1, -1) : piece;
    start = end;
  }
  yield '"';
}

function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3) + 2;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** UTF-8 bytes of `JSON.stringify(text)`, quotes included. */
export function jsonStringLength(text: string): number {
  let length = 2;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (c >= 0x20) length += c === 0x22 || c === 0x5c ? 2 : 1;
      else length += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
    } else if (c < 0x800) length += 2;
    else if (isHighSurrogate(c) && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 4;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff)
      length += 6; // a lone surrogate, escaped as \uXXXX
    else length += 3;
  }
  return length;
}
