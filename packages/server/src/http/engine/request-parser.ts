import { hexValue } from './chars.js';
import { isAbsoluteForm, versionMinorOf } from './fields.js';
import { CONTROL_FIELDS, FramingFields } from './framing.js';
import { COMMON_NAMES, commonHeaderName, knownMethod, matchCommonName, TOO_SHORT } from './known-names.js';
import { PendingFields } from './pending-fields.js';
import { REFUSED, type Refusal } from './refusals.js';
import { BodyFraming, RequestHead } from './request-head.js';
import {
  MALFORMED,
  MORE_BYTES_NEEDED,
  skipChunkExtensions,
  skipFieldValue,
  skipHexDigits,
  skipTarget,
  skipToken,
  skipWhitespace,
} from './scan.js';

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a;
const SEMICOLON = 0x3b;

/** Limits of a {@link RequestParser}; each is enforced as the bytes arrive, never after buffering them. */
export interface RequestParserOptions {
  /**
   * Bytes of the request line and header section together, line ends included (also the bound of a
   * chunked body's trailer section). Node counts fewer bytes against its own 16 KiB, so at the same
   * setting this parser refuses first.
   * @default 16384
   */
  maxHeaderBytes?: number;
  /** Header fields per request (and trailer fields per chunked body). @default 100 */
  maxHeaderCount?: number;
}

/** Where a parser delivers what it parsed; called synchronously from {@link RequestParser.execute}. */
export interface RequestSink {
  /** A request line and header section, complete and valid. */
  onHead(head: RequestHead): void;
  /** Body bytes in order (for chunked bodies, the data without the framing). A view of the input chunk. */
  onBody(chunk: Buffer): void;
  /** The request's body is complete (right after `onHead` when it has none). */
  onEnd(): void;
}

const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
const DEFAULT_MAX_HEADER_COUNT = 100;
/** Extension bytes a chunked body may carry in all: Node's bound too, against bodies made of framing. */
const MAX_CHUNK_EXTENSION_BYTES = 16 * 1024;
/** Beyond this a chunk size is refused (413): far above any body limit, and exact in a double. */
const MAX_CHUNK_SIZE = 2 ** 40;

// Line results: the index after the line's LF, or one of these.
const NEED_MORE = MORE_BYTES_NEEDED;
const STOPPED = -2;

// Parser states.
const REQUEST_LINE = 0;
const HEADER_LINE = 1;
const BODY = 2;
const CHUNK_SIZE_LINE = 3;
const CHUNK_DATA = 4;
const CHUNK_DATA_CR = 5;
const CHUNK_DATA_LF = 6;
const TRAILER_LINE = 7;
/** After a request that does not keep the connection alive: what follows is not read. */
const CLOSED = 8;
const REFUSED_STATE = 9;

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * A strict, incremental HTTP/1.1 request parser (RFC 9112). Fed the bytes of one connection as they arrive,
 * in chunks split anywhere, it delivers each request's head, body and end to its sink, pipelined requests
 * one after another. What is ambiguous is refused, never guessed: see `REFUSED` for the list. After a
 * refusal it reads nothing more; the connection must be answered with `refusal.status` and closed.
 *
 * Lines split across chunks are copied into one growing buffer (at most `maxHeaderBytes`), so input
 * trickled a byte at a time costs linear time; everything else is read in place.
 */
export class RequestParser {
  readonly #sink: RequestSink;
  readonly #maxHeaderBytes: number;
  readonly #maxHeaderCount: number;
  #state = REQUEST_LINE;
  #refusal: Refusal | undefined;
  #isPaused = false;
  /** The start of a line whose end has not arrived yet. */
  #carry: Latin1Buffer | undefined;
  #carryView: DataView | undefined;
  /** A view of the buffer being parsed (the chunk, or the carry), for reading four bytes at a time. */
  #view: DataView = new DataView(new ArrayBuffer(0));
  #carryLength = 0;
  // The request being parsed.
  #headBytes = 0;
  #headerCount = 0;
  #method = '';
  #target = '';
  #versionMinor: 0 | 1 = 1;
  #headers: string[] = [];
  /** Header fields not yet made strings: made before the head is delivered or `execute` returns. */
  readonly #pending = new PendingFields();
  readonly #framing = new FramingFields();
  #keepAlive = true;
  /** Body bytes (or bytes of the current chunk) still to come. */
  #remaining = 0;
  #extensionBytes = 0;

  constructor(sink: RequestSink, options: RequestParserOptions = {}) {
    this.#sink = sink;
    this.#maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.#maxHeaderCount = options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT;
  }

  /** Why the input was refused; undefined while it is acceptable. */
  get refusal(): Refusal | undefined {
    return this.#refusal;
  }

  /** True between requests, with no byte of a next one received: the connection may be closed quietly. */
  get isIdle(): boolean {
    return (
      (this.#state === REQUEST_LINE && this.#carryLength === 0 && this.#headBytes === 0) || this.#isClosed
    );
  }

  /** True after a request that does not keep the connection alive was read: nothing more will be. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  get #isClosed(): boolean {
    return this.#state === CLOSED;
  }

  /** Stops `execute` after the callback that calls this returns, until {@link resume}. */
  pause(): void {
    this.#isPaused = true;
  }

  resume(): void {
    this.#isPaused = false;
  }

  /**
   * Parses `chunk` and returns how many of its bytes were consumed: all of them unless the sink paused
   * the parser, in which case the rest must be passed again after `resume()`. Check `refusal` after each
   * call. Body chunks handed to the sink are views of `chunk`.
   */
  execute(input: Buffer): number {
    const chunk = input as Latin1Buffer;
    const end = chunk.length;
    if (this.#state >= CLOSED) return end;
    if (this.#isPaused) return 0;
    let pos = 0;
    if (this.#carryLength > 0) {
      pos = this.#finishCarriedLine(chunk);
      if (pos === STOPPED) return end;
    }
    this.#view = new DataView(chunk.buffer, chunk.byteOffset, end);
    while (pos < end && !this.#isPaused) {
      switch (this.#state) {
        case BODY:
        case CHUNK_DATA:
          pos = this.#body(chunk, pos, end);
          break;
        case CHUNK_DATA_CR:
          if (chunk[pos] !== CR) return this.#stop(REFUSED.chunkEnd, end);
          this.#state = CHUNK_DATA_LF;
          pos++;
          break;
        case CHUNK_DATA_LF:
          if (chunk[pos] !== LF) return this.#stop(REFUSED.chunkEnd, end);
          this.#state = CHUNK_SIZE_LINE;
          pos++;
          break;
        case CLOSED:
        case REFUSED_STATE:
          return end;
        default: {
          const next = this.#line(chunk, pos, end);
          if (next === STOPPED) return end;
          if (next === NEED_MORE) {
            this.#pending.moveTo(this.#headers, chunk);
            this.#carryOver(chunk, pos, end);
            return end;
          }
          pos = next;
        }
      }
    }
    this.#pending.moveTo(this.#headers, chunk);
    return pos;
  }

  /**
   * The connection's input ended. Returns the refusal when it ended inside a request (nothing is answered
   * to a request that was not all received, but the engine logs and counts it), else undefined.
   */
  finish(): Refusal | undefined {
    if (this.#refusal === undefined && !this.isIdle) this.#stop(REFUSED.incomplete, 0);
    return this.#refusal;
  }

  #stop(refusal: Refusal, result: number): number {
    this.#refusal = refusal;
    this.#state = REFUSED_STATE;
    this.#carryLength = 0;
    this.#pending.clear();
    return result;
  }

  #refuse(refusal: Refusal): number {
    return this.#stop(refusal, STOPPED);
  }

  #line(buf: Latin1Buffer, start: number, end: number): number {
    switch (this.#state) {
      case REQUEST_LINE:
        return this.#requestLine(buf, start, end);
      case HEADER_LINE:
        return this.#fieldLine(buf, start, end, false);
      case CHUNK_SIZE_LINE:
        return this.#chunkSizeLine(buf, start, end);
      default:
        return this.#fieldLine(buf, start, end, true);
    }
  }

  /** Keeps the start of an unfinished line, unless it already breaks its limit. */
  #carryOver(chunk: Buffer, start: number, end: number) {
    const length = this.#carryLength + end - start;
    const overLimit = this.#overLimit(length);
    if (overLimit !== undefined) {
      this.#stop(overLimit, 0);
      return;
    }
    let carry = this.#carry;
    if (carry === undefined || carry.length < length) {
      const grown = Buffer.allocUnsafe(Math.max(256, length * 2)) as Latin1Buffer;
      if (carry !== undefined) carry.copy(grown, 0, 0, this.#carryLength);
      this.#carry = carry = grown;
      this.#carryView = new DataView(grown.buffer, grown.byteOffset, grown.length);
    }
    chunk.copy(carry, this.#carryLength, start, end);
    this.#carryLength = length;
  }

  /** Completes the carried line with the start of `chunk`; returns where the rest of `chunk` begins. */
  #finishCarriedLine(chunk: Latin1Buffer): number {
    const lf = chunk.indexOf(LF);
    const used = lf === -1 ? chunk.length : lf + 1;
    this.#carryOver(chunk, 0, used);
    if (this.#state === REFUSED_STATE) return STOPPED;
    if (lf === -1) return used;
    const carry = this.#carry as Latin1Buffer;
    const length = this.#carryLength;
    this.#carryLength = 0;
    this.#view = this.#carryView as DataView;
    const next = this.#line(carry, 0, length);
    if (next === STOPPED) return STOPPED;
    this.#pending.moveTo(this.#headers, carry);
    // A line that holds its LF is always decided: accepted whole, or refused.
    if (next !== length) return this.#stop(REFUSED.requestLine, STOPPED);
    return used;
  }

  /**
   * The refusal for a line of `length` bytes (so far) that breaks its limit: the head's bytes, or for a
   * chunk size line sixteen hex digits and the extension bytes the body may still carry.
   */
  #overLimit(length: number): Refusal | undefined {
    const state = this.#state;
    if (state === CHUNK_SIZE_LINE) {
      return length > 18 + MAX_CHUNK_EXTENSION_BYTES - this.#extensionBytes
        ? REFUSED.chunkExtension
        : undefined;
    }
    if (this.#headBytes + length <= this.#maxHeaderBytes) return undefined;
    if (state === REQUEST_LINE) return REFUSED.requestLineTooLong;
    return state === HEADER_LINE ? REFUSED.headerTooLarge : REFUSED.trailers;
  }

  /**
   * Refuses the line starting at `start` for what was found at `at`, once the line is whole: until its LF
   * arrives the verdict waits (NEED_MORE), and a whole line over its limit is refused for that first. So
   * the verdict on any input is the same wherever it was split into chunks.
   */
  #refuseLine(buf: Buffer, start: number, at: number, end: number, refusal: Refusal): number {
    let lf = at;
    while (lf < end && buf[lf] !== LF) lf++;
    if (lf === end) return NEED_MORE;
    return this.#refuse(this.#overLimit(lf + 1 - start) ?? lineEndRefusal(buf, at) ?? refusal);
  }

  #requestLine(buf: Latin1Buffer, start: number, end: number): number {
    let i = start;
    let byte = buf[i] as number;
    if (byte === CR) {
      // Empty lines before a request line are skipped (RFC 9112 §2.2), within the header byte limit.
      if (i + 1 === end) return NEED_MORE;
      if (buf[i + 1] !== LF) return this.#refuseLine(buf, start, i, end, REFUSED.bareCarriageReturn);
      const overLimit = this.#overLimit(2);
      if (overLimit !== undefined) return this.#refuse(overLimit);
      this.#headBytes += 2;
      return i + 2;
    }
    i = skipToken(buf, i, end);
    if (i === end) return NEED_MORE;
    byte = buf[i] as number;
    if (byte !== SPACE || i === start) return this.#refuseLine(buf, start, i, end, REFUSED.method);
    const method = knownMethod(buf, start, i);
    if (method === undefined) return this.#refuseLine(buf, start, i, end, REFUSED.unsupportedMethod);
    const targetStart = ++i;
    i = skipTarget(buf, i, end);
    if (i === end) return NEED_MORE;
    byte = buf[i] as number;
    if (byte !== SPACE || i === targetStart) return this.#refuseLine(buf, start, i, end, REFUSED.target);
    const targetEnd = i;
    const versionStart = ++i;
    // "HTTP/1.1" then CRLF: stop at the first line end or past the ninth byte, whichever comes first.
    while (i < end) {
      byte = buf[i] as number;
      if (byte === CR || byte === LF || i - versionStart > 8) break;
      i++;
    }
    if (i === end) return NEED_MORE;
    if (byte !== CR) return this.#refuseLine(buf, start, i, end, REFUSED.version);
    if (i + 1 === end) return NEED_MORE;
    if (buf[i + 1] !== LF) return this.#refuseLine(buf, start, i, end, REFUSED.bareCarriageReturn);
    // The line is whole: its length first, then what it says.
    const length = i + 2 - start;
    const overLimit = this.#overLimit(length);
    if (overLimit !== undefined) return this.#refuse(overLimit);
    const minor = versionMinorOf(buf, versionStart, i);
    if (minor === -1) return this.#refuse(REFUSED.version);
    if (minor === -2) return this.#refuse(REFUSED.unsupportedVersion);
    const first = buf[targetStart];
    if (first === 0x2a /* '*' */) {
      if (targetEnd - targetStart !== 1 || method !== 'OPTIONS') return this.#refuse(REFUSED.targetForm);
    } else if (first !== 0x2f /* '/' */ && !isAbsoluteForm(buf, targetStart, targetEnd)) {
      return this.#refuse(REFUSED.target);
    }
    this.#headBytes += length;
    this.#method = method;
    this.#target = buf.latin1Slice(targetStart, targetEnd);
    this.#versionMinor = minor;
    this.#headers = [];
    this.#state = HEADER_LINE;
    return i + 2;
  }

  /** A header (or trailer) line, or the empty line that ends the section. */
  #fieldLine(buf: Latin1Buffer, start: number, end: number, isTrailer: boolean): number {
    let i = start;
    let byte = buf[i] as number;
    if (byte === CR) {
      if (i + 1 === end) return NEED_MORE;
      if (buf[i + 1] !== LF) return this.#refuseLine(buf, start, i, end, REFUSED.bareCarriageReturn);
      const overLimit = this.#overLimit(2);
      if (overLimit !== undefined) return this.#refuse(overLimit);
      return isTrailer ? this.#messageEnd(i + 2) : this.#headComplete(buf, i + 2);
    }
    // A line starting with whitespace continues the previous field (obs-fold): refused, never joined.
    if (byte === SPACE || byte === TAB) return this.#refuseLine(buf, start, i, end, REFUSED.obsFold);
    // A common name is matched whole (colon included), which proves its bytes; any other is scanned.
    const known = matchCommonName(this.#view, start, end);
    let common: string | undefined;
    let nameEnd: number;
    if (known >= 0) {
      common = COMMON_NAMES[known] as string;
      nameEnd = start + common.length;
    } else {
      i = skipToken(buf, i, end);
      if (i === end) return NEED_MORE;
      byte = buf[i] as number;
      if (byte !== COLON || i === start) {
        const refusal = byte === SPACE || byte === TAB ? REFUSED.spaceBeforeColon : REFUSED.fieldName;
        return this.#refuseLine(buf, start, i, end, refusal);
      }
      nameEnd = i;
      common = known === TOO_SHORT ? commonHeaderName(buf, start, nameEnd) : undefined;
    }
    const valueStart = skipWhitespace(buf, nameEnd + 1, end);
    i = skipFieldValue(buf, this.#view, valueStart, end);
    if (i === end) return NEED_MORE;
    byte = buf[i] as number;
    if (byte !== CR) return this.#refuseLine(buf, start, i, end, REFUSED.fieldValue);
    if (i + 1 === end) return NEED_MORE;
    if (buf[i + 1] !== LF) return this.#refuseLine(buf, start, i, end, REFUSED.bareCarriageReturn);
    const overLimit = this.#overLimit(i + 2 - start);
    if (overLimit !== undefined) return this.#refuse(overLimit);
    this.#headBytes += i + 2 - start;
    if (++this.#headerCount > this.#maxHeaderCount)
      return this.#refuse(isTrailer ? REFUSED.trailers : REFUSED.tooManyHeaders);
    let valueEnd = i;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SPACE || buf[valueEnd - 1] === TAB)) valueEnd--;
    if (isTrailer) {
      // Checked and dropped: nothing in the gateway reads trailers. A field that frames the message or
      // steers the connection has no business there (RFC 9110 §6.5.1), and node:http would act on it.
      return common !== undefined && CONTROL_FIELDS.has(common) ? this.#refuse(REFUSED.trailerField) : i + 2;
    }
    if (common !== undefined) {
      const refusal = this.#framing.read(common, buf, valueStart, i);
      if (refusal !== undefined) return this.#refuse(refusal);
    }
    this.#pending.add(common, start, nameEnd, valueStart, valueEnd);
    return i + 2;
  }

  /** The empty line after the headers: checks what needs all of them, then delivers the head. */
  #headComplete(buf: Latin1Buffer, next: number): number {
    this.#pending.moveTo(this.#headers, buf);
    const fields = this.#framing;
    const isHttp11 = this.#versionMinor === 1;
    const refusal = fields.check(isHttp11);
    if (refusal !== undefined) return this.#refuse(refusal);
    const keepAlive = fields.keepsAlive(isHttp11);
    this.#keepAlive = keepAlive;
    const framing = fields.framing;
    const length = framing === BodyFraming.Length ? fields.contentLength : 0;
    const head = new RequestHead(
      this.#method,
      this.#target,
      this.#versionMinor,
      this.#headers,
      framing,
      length,
      keepAlive,
      fields.hasExpect,
    );
    this.#headBytes = 0;
    this.#headerCount = 0;
    if (framing === BodyFraming.None) {
      this.#sink.onHead(head);
      return this.#messageEnd(next);
    }
    this.#state = framing === BodyFraming.Chunked ? CHUNK_SIZE_LINE : BODY;
    this.#remaining = length;
    this.#sink.onHead(head);
    return next;
  }

  /** Body bytes of a Content-Length body or of one chunk, up to `end`. */
  #body(chunk: Buffer, pos: number, end: number): number {
    const take = Math.min(this.#remaining, end - pos);
    this.#remaining -= take;
    const isLast = this.#remaining === 0;
    if (isLast && this.#state === CHUNK_DATA) this.#state = CHUNK_DATA_CR;
    this.#sink.onBody(chunk.subarray(pos, pos + take));
    if (isLast && this.#state === BODY) return this.#messageEnd(pos + take);
    return pos + take;
  }

  #chunkSizeLine(buf: Latin1Buffer, start: number, end: number): number {
    let i = skipHexDigits(buf, start, end);
    if (i === end) return NEED_MORE;
    if (i === start) return this.#refuseLine(buf, start, i, end, REFUSED.chunkSize);
    let size = 0;
    for (let digit = start; digit < i; digit++) {
      size = size * 16 + hexValue(buf[digit] as number);
      if (size > MAX_CHUNK_SIZE) return this.#refuseLine(buf, start, i, end, REFUSED.chunkTooLarge);
    }
    const byte = buf[i] as number;
    const extensionStart = i;
    if (byte === SEMICOLON) {
      i = skipChunkExtensions(buf, i, end);
      if (i === NEED_MORE) return NEED_MORE;
      if (i === MALFORMED || buf[i] !== CR) {
        return this.#refuseLine(buf, start, Math.max(i, extensionStart), end, REFUSED.chunkExtension);
      }
    } else if (byte !== CR) {
      return this.#refuseLine(buf, start, i, end, REFUSED.chunkSize);
    }
    if (i + 1 === end) return NEED_MORE;
    if (buf[i + 1] !== LF) return this.#refuseLine(buf, start, i, end, REFUSED.bareCarriageReturn);
    const overLimit = this.#overLimit(i + 2 - start);
    if (overLimit !== undefined) return this.#refuse(overLimit);
    this.#extensionBytes += i - extensionStart;
    if (this.#extensionBytes > MAX_CHUNK_EXTENSION_BYTES) return this.#refuse(REFUSED.chunkExtension);
    if (size === 0) {
      this.#state = TRAILER_LINE;
    } else {
      this.#state = CHUNK_DATA;
      this.#remaining = size;
    }
    return i + 2;
  }

  /** The request is complete: tells the sink, and gets ready for the next one (or for none). */
  #messageEnd(next: number): number {
    this.#state = this.#keepAlive ? REQUEST_LINE : CLOSED;
    this.#headBytes = 0;
    this.#headerCount = 0;
    this.#framing.reset();
    this.#keepAlive = true;
    this.#extensionBytes = 0;
    this.#sink.onEnd();
    return next;
  }
}

/**
 * The refusal for a line end byte where none may be (LF without CR before it, CR without LF after it), or
 * undefined when the byte at `at` is neither or is a CRLF that merely ends the line too early.
 */
function lineEndRefusal(buf: Buffer, at: number): Refusal | undefined {
  const byte = buf[at];
  if (byte === LF) return REFUSED.bareLineFeed;
  if (byte === CR && buf[at + 1] !== LF) return REFUSED.bareCarriageReturn;
  return undefined;
}
