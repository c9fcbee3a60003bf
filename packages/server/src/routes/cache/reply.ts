import { jsonStringLength } from '../../core/encode-result.js';
import { droppedReplyError } from '../../core/executor.js';
import { gatewayError } from '../../errors.js';
import { DroppedReply, ErrorReply } from '../../redis/resp.js';
import type { Reply } from '../../redis/types.js';
import { scanJson } from '../json-scan.js';

/**
 * A cache API result: Redis errors (such as WRONGTYPE) become CG_ERR_REDIS_ERROR, a reply the gateway did
 * not forward (too large) CG_ERR_REPLY_TOO_LARGE or CG_ERR_OVERLOADED.
 */
export function expectReply(reply: Reply | undefined): Exclude<Reply, ErrorReply> {
  if (reply instanceof DroppedReply) throw droppedReplyError(reply);
  if (reply instanceof ErrorReply) throw gatewayError('CG_ERR_REDIS_ERROR', reply.message);
  return reply ?? null;
}

/**
 * The JSON text of a stored value, as the SDK's codec reads it: stored JSON as it is, byte for byte (so no
 * nesting depth or number precision is lost on the way out), and text that is not JSON as a JSON string,
 * unless escaping would take it past `maxBytes` (control characters grow sixfold).
 * @throws {GatewayError} CG_ERR_REPLY_TOO_LARGE
 */
export function storedJson(reply: Reply | undefined, maxBytes: number): string {
  const value = expectReply(reply);
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  if (isJson(text)) return text.trim();
  if (text.length * 6 + 2 > maxBytes && jsonStringLength(text) > maxBytes) {
    throw droppedReplyError(DroppedReply.over('answer', maxBytes));
  }
  return JSON.stringify(text);
}

/** Read without building anything: a stored `[{},{},...]` costs a scan, not millions of objects. */
function isJson(text: string): boolean {
  return scanJson(text) !== undefined;
}
