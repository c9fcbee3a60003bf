import { gatewayError } from '../../errors.js';
import { ErrorReply } from '../../redis/resp.js';
import type { Reply } from '../../redis/types.js';

/** A cache API result: Redis errors (such as WRONGTYPE) become CG_ERR_REDIS_ERROR. */
export function expectReply(reply: Reply | undefined): Exclude<Reply, ErrorReply> {
  if (reply instanceof ErrorReply) throw gatewayError('CG_ERR_REDIS_ERROR', reply.message);
  return reply ?? null;
}

/**
 * The JSON text of a stored value, as the SDK's codec reads it: stored JSON as it is, byte for byte (so no
 * nesting depth or number precision is lost on the way out), and text that is not JSON as a JSON string.
 */
export function storedJson(reply: Reply | undefined): string {
  const value = expectReply(reply);
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  return isJson(text) ? text.trim() : JSON.stringify(text);
}

/** JSON.parse is iterative in V8, so this holds for any nesting depth. */
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
