import { ErrorReply } from '@redis/client';
import type { Reply } from './types.js';

/** A reply as the Upstash wire format carries it: strings, integers, null and nested arrays only. */
export type EncodedResult = string | number | null | EncodedResult[];

/** One entry of a `/pipeline` or `/multi-exec` response: exactly one of the two keys. */
export type PipelineItem = { result: EncodedResult } | { error: string };

/**
 * Turns a Redis reply into its Upstash JSON shape. With `base64`, every string at every depth is the base64
 * of its exact bytes (status replies such as OK included); without, bytes are read as UTF-8. Integers and
 * null are never encoded. An error nested inside a reply (a script's table) becomes its message, a string
 * like any other.
 */
export function encodeResult(reply: Reply, base64: boolean): EncodedResult {
  if (reply === null || typeof reply === 'number') return reply;
  if (Buffer.isBuffer(reply)) return base64 ? reply.toString('base64') : reply.toString('utf8');
  if (typeof reply === 'string') return base64 ? Buffer.from(reply).toString('base64') : reply;
  if (reply instanceof ErrorReply)
    return base64 ? Buffer.from(reply.message).toString('base64') : reply.message;
  return reply.map((item) => encodeResult(item, base64));
}

/** One pipeline entry: `{"error"}` for a Redis error (never base64), `{"result"}` otherwise. */
export function encodePipelineItem(reply: Reply, base64: boolean): PipelineItem {
  return reply instanceof ErrorReply ? { error: reply.message } : { result: encodeResult(reply, base64) };
}
