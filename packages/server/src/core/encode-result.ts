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
