import { type AnswerReservation, type DropReason, VALUE_OVERHEAD_BYTES } from '../answer-budget.js';
import type { Command, Reply, ReplyForm } from './types.js';

/**
 * An error reply from Redis (`-ERR ...`, `-WRONGTYPE ...`): a result of its command, not a failure of the
 * connection. Its message is Redis's own text.
 */
export class ErrorReply extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ErrorReply';
  }
}

/** The bytes on the wire break the RESP2 protocol: the connection cannot be trusted any more. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const CR = 13;
/** Bulk strings at least this long that arrive in pieces are copied into place instead of re-concatenated. */
const LARGE_BULK = 16 * 1024;
const MAX_SAFE_DIGITS = 15;

/**
 * Encodes a command as a RESP2 array of bulk strings. Text-only commands become one string, so that a
 * tick's worth of commands can be joined and written at once; commands with binary arguments a Buffer.
 */
export function encodeCommand(command: Command): string | Buffer {
  let text = `*${command.length}\r\n`;
  let hasBuffer = false;
  for (const arg of command) {
    if (typeof arg !== 'string') {
      hasBuffer = true;
      break;
    }
    text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  }
  if (!hasBuffer) return text;
  const parts: Buffer[] = [Buffer.from(`*${command.length}\r\n`)];
  for (const arg of command) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');

/**
 * A nil array (`*-1`, as `GEOPOS` answers for a missing member) in replies read in the `resp2` form; every
 * other form reads it as null, like a nil bulk string (`$-1`). Frozen and empty: code that does not look for
 * it sees an empty array.
 */
export const NIL_ARRAY: Reply[] = Object.freeze([]) as unknown as Reply[];

/** An open array: its items so far (none kept once the reply is dropped), its length, how many arrived. */
interface Frame {
  readonly items: Reply[] | undefined;
  readonly length: number;
  filled: number;
}

/** Whom a reply is for, as the parser needs to know it at the start of each reply. */
export interface ReplyTarget {
  /** How bulk strings are wanted (see ReplyForm). */
  readonly form: ReplyForm;
  /** Where the reply's memory is counted; undefined: only the parser's own cap applies. */
  readonly reservation: AnswerReservation | undefined;
  /** False once nobody waits for the reply (its batch timed out): it is then read and dropped unbuilt. */
  readonly isWanted: boolean;
}

const ANYONE: ReplyTarget = { form: 'bytes', reservation: undefined, isWanted: true };

/**
 * A reply the gateway read but did not build, in its command's place: too deep, too large for its command,
 * its request or the process (see AnswerBudget). Redis ran the command; only the reply is not forwarded.
 */
export class DroppedReply extends ErrorReply {
  constructor(
    readonly reason: DropReason | 'depth',
    message: string,
  ) {
    super(message);
    this.name = 'DroppedReply';
  }

  /** The reply dropped for being over a budget of `limit` bytes, said so the caller knows what to do. */
  static over(reason: Exclude<DropReason, 'unwanted'>, limit: number): DroppedReply {
    const ran = 'the command ran, but the gateway does not forward its reply';
    switch (reason) {
      case 'reply':
        return new DroppedReply(
          reason,
          `ERR the reply is over ${limit} bytes (CACHEGATE_MAX_REPLY_BYTES, counting ${VALUE_OVERHEAD_BYTES} ` +
            `bytes per value); ${ran}: ask for less at once (fewer keys, a range, SCAN)`,
        );
      case 'answer':
        return new DroppedReply(
          reason,
          `ERR the replies of this request are over ${limit} bytes (CACHEGATE_MAX_ANSWER_BYTES); ${ran}: split the request`,
        );
      case 'process':
        return new DroppedReply(
          reason,
          `ERR the gateway holds all the large replies it may right now (CACHEGATE_MAX_BUFFERED_REPLY_BYTES); ${ran}: retry shortly`,
        );
    }
  }
}

/**
 * An incremental RESP2 reply parser. It keeps no recursion (an explicit stack of open arrays), so a reply
 * nested any number of levels deep is read without exhausting the call stack and the stream stays in step.
 * Replies are budgeted in the units that cost memory: bytes plus {@link VALUE_OVERHEAD_BYTES} per value,
 * counted against `maxBytes` per reply and against the target's reservation (its request and the process).
 * A reply over any of them, nested deeper than `maxDepth`, or that nobody waits for any more is read and
 * dropped without being held (an array's length alone may decide it), and arrives as a {@link DroppedReply}
 * (or null, for nobody). Bulk strings come out as Buffers (byte-exact) or, when asked, as UTF-8 text (see
 * ReplyForm); status replies as strings, integers as numbers (BigInt beyond 2^53), nil as null.
 */
export class ReplyParser {
  readonly #onReply: (reply: Reply) => void;
  readonly #maxDepth: number;
  readonly #target: () => ReplyTarget;
  /** Unparsed bytes left over from the previous chunk (an incomplete header or small bulk string). */
  #rest: Buffer | undefined;
  /** A large bulk string being filled across chunks, and how much of it has arrived. */
  #bulk: Buffer | undefined;
  #bulkFilled = 0;
  /** Bytes to drop before parsing resumes: the CRLF after a large bulk string, or a dropped payload. */
  #skip = 0;
  readonly #stack: Frame[] = [];
  #tooDeep = false;
  readonly #maxBytes: number;
  /** The target of the reply being read; undefined between replies. */
  #current: ReplyTarget | undefined;
  /** Bytes of the reply being read so far, in budget units, and charged to its reservation. */
  #replyBytes = 0;
  /** Set once the reply being read is over a budget: the rest of it is skipped. */
  #dropped: DropReason | undefined;

  /** @param target asked at the start of each reply: whom it is for. */
  constructor(
    onReply: (reply: Reply) => void,
    maxDepth: number,
    target: () => ReplyTarget = () => ANYONE,
    maxBytes = Number.POSITIVE_INFINITY,
  ) {
    this.#onReply = onReply;
    this.#maxDepth = maxDepth;
    this.#target = target;
    this.#maxBytes = maxBytes;
  }

  /**
   * Counts `bytes` against the reply's budgets; true once the reply is dropped (its data is then skipped).
   * The first call of a reply finds out whom it is for.
   */
  #spend(bytes: number): boolean {
    let target = this.#current;
    if (target === undefined) {
      target = this.#target();
      this.#current = target;
      if (!target.isWanted) this.#dropped = 'unwanted';
    }
    if (this.#dropped !== undefined) return true;
    const total = this.#replyBytes + bytes;
    const reason = total > this.#maxBytes ? 'reply' : target.reservation?.charge(bytes);
    if (reason === undefined) {
      this.#replyBytes = total;
      return false;
    }
    target.reservation?.refund(this.#replyBytes);
    this.#replyBytes = 0;
    this.#dropped = reason;
    return true;
  }

  /** The budget units of a value's own object: prepaid by its array when it has one. */
  get #ownValue(): number {
    return this.#stack.length === 0 ? VALUE_OVERHEAD_BYTES : 0;
  }

  /** Parses a chunk from the socket, delivering each complete reply in order. @throws {ProtocolError} */
  feed(chunk: Buffer): void {
    let data = chunk;
    if (this.#bulk !== undefined) {
      const bulk = this.#bulk;
      const taken = Math.min(bulk.length - this.#bulkFilled, data.length);
      data.copy(bulk, this.#bulkFilled, 0, taken);
      this.#bulkFilled += taken;
      if (this.#bulkFilled < bulk.length) return;
      this.#bulk = undefined;
      this.#skip = 2;
      data = data.subarray(taken);
      this.#deliver(this.#current?.form === 'text' ? bulk.toString('utf8') : bulk);
    }
    if (this.#skip > 0) {
      const skipped = Math.min(this.#skip, data.length);
      this.#skip -= skipped;
      data = data.subarray(skipped);
    }
    if (this.#rest !== undefined) {
      data = Buffer.concat([this.#rest, data]);
      this.#rest = undefined;
    }
    let offset = 0;
    while (offset < data.length) {
      const type = data[offset] as number;
      const lineEnd = data.indexOf(CR, offset + 1);
      if (lineEnd === -1 || lineEnd + 1 >= data.length) break;
      if (data[lineEnd + 1] !== 10) throw new ProtocolError('a line does not end with CRLF');
      const next = lineEnd + 2;
      switch (type) {
        case 43: // '+'
          this.#spend(next - offset + this.#ownValue);
          this.#deliver(
            lineEnd - offset === 3 && data[offset + 1] === 79 && data[offset + 2] === 75
              ? 'OK'
              : data.toString('utf8', offset + 1, lineEnd),
          );
          offset = next;
          break;
        case 45: // '-'
          this.#spend(next - offset + this.#ownValue);
          this.#deliver(new ErrorReply(data.toString('utf8', offset + 1, lineEnd)));
          offset = next;
          break;
        case 58: // ':'
          this.#spend(next - offset + this.#ownValue);
          this.#deliver(parseInteger(data, offset + 1, lineEnd));
          offset = next;
          break;
        case 36: {
          // '$'
          const length = Number(parseInteger(data, offset + 1, lineEnd));
          if (length === -1) {
            this.#spend(next - offset + this.#ownValue);
            this.#deliver(null);
            offset = next;
            break;
          }
          if (length < 0) throw new ProtocolError(`invalid bulk string length ${length}`);
          const end = next + length;
          const isComplete = end + 2 <= data.length;
          if (!isComplete && length < LARGE_BULK && this.#dropped === undefined) {
            // Read again, header and all, once the rest has arrived: counted then.
            this.#rest = data.subarray(offset);
            return;
          }
          if (this.#spend(length + next - offset + this.#ownValue)) {
            // Dropped: step over the payload (now or as it arrives) and keep only the structure.
            this.#deliver(null);
            if (isComplete) {
              offset = end + 2;
              break;
            }
            this.#skip = end + 2 - data.length;
            return;
          }
          if (isComplete) {
            this.#deliver(
              this.#current?.form === 'text' ? data.toString('utf8', next, end) : data.subarray(next, end),
            );
            offset = end + 2;
            break;
          }
          // Copy what has arrived into a buffer of the final size; later chunks fill the rest.
          const bulk = Buffer.allocUnsafe(length);
          this.#bulkFilled = data.copy(bulk, 0, next);
          this.#bulk = bulk;
          return;
        }
        case 42: {
          // '*'
          const length = Number(parseInteger(data, offset + 1, lineEnd));
          // The array and one value's overhead per item, known from its length alone: a reply of millions
          // of items is refused here, before any of them is read.
          const isDropped = this.#spend(
            next - offset + this.#ownValue + Math.max(length, 0) * VALUE_OVERHEAD_BYTES,
          );
          offset = next;
          if (length === -1) this.#deliver(this.#current?.form === 'resp2' ? NIL_ARRAY : null);
          else if (length === 0) this.#deliver([]);
          else if (length < 0) throw new ProtocolError(`invalid array length ${length}`);
          else {
            if (this.#stack.length >= this.#maxDepth) this.#tooDeep = true;
            this.#stack.push({ items: isDropped ? undefined : new Array(length), length, filled: 0 });
          }
          break;
        }
        default:
          throw new ProtocolError(`unexpected reply type byte ${type}`);
      }
    }
    if (offset < data.length) this.#rest = data.subarray(offset);
  }

  /** Places a value in the innermost open array, closing every array it completes. */
  #deliver(value: Reply) {
    let current = value;
    for (;;) {
      const frame = this.#stack[this.#stack.length - 1];
      if (frame === undefined) break;
      if (frame.items !== undefined) frame.items[frame.filled] = current;
      frame.filled++;
      if (frame.filled < frame.length) return;
      this.#stack.pop();
      current = frame.items ?? null;
    }
    const dropped = this.#dropped;
    if (this.#tooDeep) {
      this.#tooDeep = false;
      this.#current?.reservation?.refund(this.#replyBytes);
      current = new DroppedReply(
        'depth',
        `ERR the reply is nested more than ${this.#maxDepth} levels deep; the gateway does not forward it`,
      );
    } else if (dropped !== undefined) {
      const budget = this.#current?.reservation?.budget;
      const limit =
        dropped === 'reply' ? this.#maxBytes : dropped === 'answer' ? budget?.maxPerAnswer : budget?.maxHeld;
      current = dropped === 'unwanted' ? null : DroppedReply.over(dropped, limit ?? 0);
    }
    this.#dropped = undefined;
    this.#replyBytes = 0;
    this.#current = undefined;
    this.#onReply(current);
  }
}

/** Reads a decimal integer between `start` and `end`; BigInt when it has more digits than a double holds. */
function parseInteger(data: Buffer, start: number, end: number): number | bigint {
  let i = start;
  const negative = data[i] === 45;
  if (negative) i++;
  if (i >= end) throw new ProtocolError('empty integer');
  if (end - i > MAX_SAFE_DIGITS) {
    const text = data.toString('latin1', start, end);
    if (!/^-?\d+$/.test(text)) throw new ProtocolError('malformed integer');
    const big = BigInt(text);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(big)
      : big;
  }
  let value = 0;
  for (; i < end; i++) {
    const digit = (data[i] as number) - 48;
    if (digit < 0 || digit > 9) throw new ProtocolError('malformed integer');
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/**
 * A reply as RESP2 bytes, the way Redis writes it: for replies read in the `resp2` form, exactly the bytes
 * Redis sent (status and error lines are UTF-8 text, as Redis writes them).
 */
export function encodeReply(reply: Reply): Buffer {
  const parts: (string | Buffer)[] = [];
  appendReply(parts, reply);
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
}

function appendReply(parts: (string | Buffer)[], reply: Reply): void {
  if (reply === null) parts.push('$-1\r\n');
  else if (reply === NIL_ARRAY) parts.push('*-1\r\n');
  else if (Buffer.isBuffer(reply)) parts.push(`$${reply.length}\r\n`, reply, '\r\n');
  else if (typeof reply === 'string') parts.push(`+${reply}\r\n`);
  else if (typeof reply === 'number' || typeof reply === 'bigint') parts.push(`:${reply}\r\n`);
  else if (reply instanceof ErrorReply) parts.push(`-${reply.message}\r\n`);
  else {
    // The parser bounds the depth (CACHEGATE_MAX_JSON_DEPTH), so this recursion is bounded too.
    parts.push(`*${reply.length}\r\n`);
    for (const item of reply) appendReply(parts, item);
  }
}

/** A reply with every bulk string read as UTF-8 text: for replies the gateway itself interprets (COMMAND). */
export function replyAsText(reply: Reply): Reply {
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  if (Array.isArray(reply)) return reply.map(replyAsText);
  return reply;
}

/** Reads a RESP2 map (a flat `[key, value, ...]` array) into an object. */
export function replyMap(reply: Reply | undefined): Record<string, Reply> {
  const map: Record<string, Reply> = {};
  if (!Array.isArray(reply)) return map;
  for (let i = 0; i + 1 < reply.length; i += 2) map[String(reply[i])] = reply[i + 1] ?? null;
  return map;
}
