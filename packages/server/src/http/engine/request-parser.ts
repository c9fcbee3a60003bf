import { buildCharClasses, hexValue } from './chars.js';
import {
  connectionFlags,
  equalsExactly,
  equalsLowerCase,
  Flag,
  isAbsoluteForm,
  versionMinorOf,
} from './fields.js';
import { COMMON_NAMES, commonHeaderName, knownMethod, matchCommonName, TOO_SHORT } from './known-names.js';
import { REFUSED, type Refusal } from './refusals.js';
import { BodyFraming, RequestHead } from './request-head.js';

// Local on purpose (see chars.ts): the scanning loops read these on every byte.
const CHAR_CLASS = buildCharClasses();
const TOKEN = 1;
const TARGET = 2;
const FIELD_VALUE = 4;
const AUTHORITY = 8;
const HEX = 16;
const WHITESPACE = 32;
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
/** Fields the parser acts on (see `#controlField`), refused as trailers. */
const CONTROL_FIELDS: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'upgrade',
  'expect',
]);
/** Beyond this a chunk size is refused (413): far above any body limit, and exact in a double. */
const MAX_CHUNK_SIZE = 2 ** 40;
/** Content-Length digits: 15 stay exact in a double and allow 999 TB, far above any body limit. */
const MAX_LENGTH_DIGITS = 15;

// Line results: the index after the line's LF, or one of these.
const NEED_MORE = -1;
const STOPPED = -2;
const MALFORMED = -3;

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
  /**
   * Header fields parsed but not yet made strings, as offsets into the chunk they were read from (name
   * start and end, value start and end, four per field) and their shared name when they have one. Their
   * strings are cut from one string of the whole run of lines: one call into C++ per head instead of two
   * per field. Made before the head is delivered and before `execute` returns (the offsets die with the
   * chunk).
   */
  readonly #pendingOffsets: number[] = [];
  readonly #pendingNames: (string | undefined)[] = [];
  #pendingCount = 0;
  #contentLength = -1;
  #isChunked = false;
  #hasTransferEncoding = false;
  #hosts = 0;
  #connection = 0;
  #hasUpgrade = false;
  #hasExpect = false;
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
            this.#makeFields(chunk);
            this.#carryOver(chunk, pos, end);
            return end;
          }
          pos = next;
        }
      }
    }
    this.#makeFields(chunk);
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
    this.#pendingCount = 0;
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
    this.#makeFields(carry);
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
    while ((CHAR_CLASS[byte] as number) & TOKEN) {
      if (++i === end) return NEED_MORE;
      byte = buf[i] as number;
    }
    if (byte !== SPACE || i === start) return this.#refuseLine(buf, start, i, end, REFUSED.method);
    const method = knownMethod(buf, start, i);
    if (method === undefined) return this.#refuseLine(buf, start, i, end, REFUSED.unsupportedMethod);
    const targetStart = ++i;
    if (i === end) return NEED_MORE;
    byte = buf[i] as number;
    while ((CHAR_CLASS[byte] as number) & TARGET) {
      if (++i === end) return NEED_MORE;
      byte = buf[i] as number;
    }
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
      i = skip(buf, i, end, TOKEN);
      if (i === end) return NEED_MORE;
      byte = buf[i] as number;
      if (byte !== COLON || i === start) {
        const refusal = byte === SPACE || byte === TAB ? REFUSED.spaceBeforeColon : REFUSED.fieldName;
        return this.#refuseLine(buf, start, i, end, refusal);
      }
      nameEnd = i;
      common = known === TOO_SHORT ? commonHeaderName(buf, start, nameEnd) : undefined;
    }
    const valueStart = skip(buf, nameEnd + 1, end, WHITESPACE);
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
      // Untrimmed: trailing whitespace in a field that frames or steers is refused, not trimmed (llhttp,
      // for one, refuses `Content-Length: 2<TAB>`), so no two readers can disagree about it.
      const refusal = this.#controlField(common, buf, valueStart, i);
      if (refusal !== undefined) return this.#refuse(refusal);
    }
    const field = this.#pendingCount++;
    this.#pendingNames[field] = common;
    const offsets = this.#pendingOffsets;
    offsets[field * 4] = start;
    offsets[field * 4 + 1] = nameEnd;
    offsets[field * 4 + 2] = valueStart;
    offsets[field * 4 + 3] = valueEnd;
    return i + 2;
  }

  /** Makes the strings of the pending fields, read from `buf`, and adds them to the header list. */
  #makeFields(buf: Latin1Buffer) {
    const count = this.#pendingCount;
    if (count === 0) return;
    this.#pendingCount = 0;
    const offsets = this.#pendingOffsets;
    const names = this.#pendingNames;
    const headers = this.#headers;
    const from = offsets[0] as number;
    const text = buf.latin1Slice(from, offsets[count * 4 - 1] as number);
    let length = headers.length;
    for (let field = 0; field < count; field++) {
      const at = field * 4;
      const valueStart = (offsets[at + 2] as number) - from;
      const valueEnd = (offsets[at + 3] as number) - from;
      // Stores at the end rather than push(): V8 inlines them, and calls push's builtin for two values.
      headers[length++] =
        names[field] ??
        // V8's toLowerCase returns the string itself when it has no upper-case letter.
        text.slice((offsets[at] as number) - from, (offsets[at + 1] as number) - from).toLowerCase();
      headers[length++] = valueEnd === valueStart ? '' : text.slice(valueStart, valueEnd);
    }
  }

  /** Fields that decide framing, keep-alive or the answer; a refusal when one is wrong or repeated. */
  #controlField(name: string, buf: Buffer, start: number, end: number): Refusal | undefined {
    switch (name) {
      case 'content-length': {
        if (this.#contentLength !== -1) return REFUSED.repeatedContentLength;
        if (start === end) return REFUSED.contentLength;
        if (end - start > MAX_LENGTH_DIGITS)
          return onlyDigits(buf, start, end) ? REFUSED.contentLengthTooLarge : REFUSED.contentLength;
        let length = 0;
        for (let i = start; i < end; i++) {
          const digit = (buf[i] as number) - 0x30;
          if (digit < 0 || digit > 9) return REFUSED.contentLength;
          length = length * 10 + digit;
        }
        this.#contentLength = length;
        return undefined;
      }
      case 'transfer-encoding':
        if (this.#hasTransferEncoding) return REFUSED.repeatedTransferEncoding;
        this.#hasTransferEncoding = true;
        // Exactly `chunked`: a list, another coding or another spelling may be read differently by a hop
        // in front of us, and that difference is what request smuggling is made of.
        if (!equalsExactly(buf, start, end, 'chunked')) return REFUSED.transferEncoding;
        this.#isChunked = true;
        return undefined;
      case 'host':
        if (++this.#hosts > 1) return REFUSED.host;
        for (let i = start; i < end; i++) {
          if (!((CHAR_CLASS[buf[i] as number] as number) & AUTHORITY)) return REFUSED.host;
        }
        return undefined;
      case 'connection': {
        const flags = connectionFlags(buf, start, end);
        if (flags === -1) return REFUSED.connection;
        this.#connection |= flags;
        return undefined;
      }
      case 'upgrade':
        this.#hasUpgrade = true;
        return undefined;
      case 'expect':
        if (this.#hasExpect) return REFUSED.repeatedExpect;
        this.#hasExpect = true;
        return equalsLowerCase(buf, start, end, '100-continue') ? undefined : REFUSED.expectation;
      default:
        return undefined;
    }
  }

  /** The empty line after the headers: checks what needs all of them, then delivers the head. */
  #headComplete(buf: Latin1Buffer, next: number): number {
    this.#makeFields(buf);
    const isHttp11 = this.#versionMinor === 1;
    if (isHttp11 && this.#hosts === 0) return this.#refuse(REFUSED.host);
    if (this.#isChunked) {
      if (this.#contentLength !== -1) return this.#refuse(REFUSED.lengthAndChunked);
      // RFC 9112 §6.1: framing of an HTTP/1.0 message with Transfer-Encoding cannot be trusted.
      if (!isHttp11) return this.#refuse(REFUSED.chunkedHttp10);
    }
    const connection = this.#connection;
    // HTTP/1.0 closes unless asked not to; an upgrade is never performed, and what follows one may not be
    // HTTP, so nothing after it is read.
    const keepAlive =
      !(connection & Flag.close) &&
      (isHttp11 || (connection & Flag.keepAlive) !== 0) &&
      !(connection & Flag.upgrade && this.#hasUpgrade);
    this.#keepAlive = keepAlive;
    const length = this.#contentLength;
    const framing = this.#isChunked
      ? BodyFraming.Chunked
      : length > 0
        ? BodyFraming.Length
        : BodyFraming.None;
    const head = new RequestHead(
      this.#method,
      this.#target,
      this.#versionMinor,
      this.#headers,
      framing,
      framing === BodyFraming.Length ? length : 0,
      keepAlive,
      this.#hasExpect,
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
    let i = start;
    let byte = buf[i] as number;
    let size = 0;
    while ((CHAR_CLASS[byte] as number) & HEX) {
      size = size * 16 + hexValue(byte);
      if (size > MAX_CHUNK_SIZE) return this.#refuseLine(buf, start, i, end, REFUSED.chunkTooLarge);
      if (++i === end) return NEED_MORE;
      byte = buf[i] as number;
    }
    if (i === start) return this.#refuseLine(buf, start, i, end, REFUSED.chunkSize);
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
    this.#contentLength = -1;
    this.#isChunked = false;
    this.#hasTransferEncoding = false;
    this.#hosts = 0;
    this.#connection = 0;
    this.#hasUpgrade = false;
    this.#hasExpect = false;
    this.#keepAlive = true;
    this.#extensionBytes = 0;
    this.#sink.onEnd();
    return next;
  }
}

/**
 * The index of the first byte from `i` on that is not of class `mask`, or `end`. The scanning loops live
 * here, small, rather than inline in the line parsers: there V8 kept the loop's variables in memory.
 */
function skip(buf: Buffer, from: number, end: number, mask: number): number {
  let i = from;
  while (i < end && (CHAR_CLASS[buf[i] as number] as number) & mask) i++;
  return i;
}

/**
 * The index of the first byte from `from` on that may not be in a field value, or `end`. Four bytes at a
 * time while none is a control byte (HTAB included, and the CR that ends the line) or DEL: the classic
 * "has a byte less than n" word test, exact for whether any byte is; then byte by byte.
 */
function skipFieldValue(buf: Buffer, view: DataView, from: number, end: number): number {
  let i = from;
  for (const last = end - 4; i <= last; i += 4) {
    const word = view.getInt32(i, true);
    const delXor = word ^ 0x7f7f7f7f;
    if ((((word - 0x20202020) & ~word) | ((delXor - 0x01010101) & ~delXor)) & 0x80808080) break;
  }
  return skip(buf, i, end, FIELD_VALUE);
}

function onlyDigits(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((buf[i] as number) < 0x30 || (buf[i] as number) > 0x39) return false;
  return true;
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

/**
 * Skips `;name` or `;name=value` extensions (tokens only, no whitespace, no quoted strings: stricter than
 * RFC 9112 §7.1.1 allows, and nothing reads them). Returns the index of the byte after them, NEED_MORE, or
 * MALFORMED for an empty name or value.
 */
function skipChunkExtensions(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end && buf[i] === SEMICOLON) {
    const nameStart = ++i;
    while (i < end && (CHAR_CLASS[buf[i] as number] as number) & TOKEN) i++;
    if (i === end) return NEED_MORE;
    if (i === nameStart) return MALFORMED;
    if (buf[i] !== 0x3d /* '=' */) continue;
    const valueStart = ++i;
    while (i < end && (CHAR_CLASS[buf[i] as number] as number) & TOKEN) i++;
    if (i === end) return NEED_MORE;
    if (i === valueStart) return MALFORMED;
  }
  return i === end ? NEED_MORE : i;
}
