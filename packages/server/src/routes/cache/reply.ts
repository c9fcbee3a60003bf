import { decodeValue } from '@cachegate/client';
import { gatewayError } from '../../errors.js';
import { ErrorReply } from '../../redis/resp.js';
import type { Reply } from '../../redis/types.js';

/** A cache API result: Redis errors (such as WRONGTYPE) become CG_ERR_REDIS_ERROR. */
export function expectReply(reply: Reply | undefined): Exclude<Reply, ErrorReply> {
  if (reply instanceof ErrorReply) throw gatewayError('CG_ERR_REDIS_ERROR', reply.message);
  return reply ?? null;
}

/** Decodes a stored value with the codec the SDK uses; non-JSON text comes back as a string. */
export function decodeStored(reply: Reply | undefined): unknown {
  const value = expectReply(reply);
  return Buffer.isBuffer(value) ? decodeValue(value.toString('utf8')) : value;
}
