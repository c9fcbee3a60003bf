import type { ErrorReply } from './resp.js';

/** One argument of a Redis command: text, or raw bytes (path-form request bodies). */
export type Arg = string | Buffer;

/** A Redis command line, name first: `['SET', 'k', 'v', 'EX', '60']`. */
export type Command = Arg[];

/**
 * A RESP2 reply as the gateway receives it: bulk strings as Buffers (byte-exact), status replies as strings,
 * integers as numbers (BigInt past 2^53), nil as null, Redis errors as ErrorReply (inside arrays too: a
 * transaction's failed command, a script's error table).
 */
export type Reply = string | number | bigint | Buffer | null | ErrorReply | Reply[];

/**
 * How a batch wants its replies: `bytes`, bulk strings as Buffers; `text`, as UTF-8 strings (the replies
 * only become JSON text, so no Buffer is made per value); `resp2`, as Buffers with a nil array kept apart
 * from a nil string ({@link NIL_ARRAY}), so the reply re-encodes to the bytes Redis sent.
 */
export type ReplyForm = 'bytes' | 'text' | 'resp2';
