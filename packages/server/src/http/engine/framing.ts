// The header fields the parser acts on, read as the header lines arrive: the body's framing
// (Content-Length, Transfer-Encoding), the connection's fate (Connection, Upgrade), Host and Expect.
// Request smuggling lives in the first two, so every doubt about them is a refusal.
import { connectionFlags, equalsExactly, equalsLowerCase, Flag } from './fields.js';
import { REFUSED, type Refusal } from './refusals.js';
import { BodyFraming } from './request-head.js';
import { isAuthority } from './scan.js';

/** Fields the parser acts on; as trailers they are refused (RFC 9110 §6.5.1; node:http would act on them). */
export const CONTROL_FIELDS: ReadonlySet<string> = new Set([
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'upgrade',
  'expect',
]);

/** Content-Length digits: 15 stay exact in a double and allow 999 TB, far above any body limit. */
const MAX_LENGTH_DIGITS = 15;

/** What one request's control fields said; `reset()` between requests. */
export class FramingFields {
  /** The declared length; -1 without Content-Length. */
  contentLength = -1;
  isChunked = false;
  hasExpect = false;
  #hasTransferEncoding = false;
  #hosts = 0;
  #connection = 0;
  #hasUpgrade = false;

  reset(): void {
    this.contentLength = -1;
    this.isChunked = false;
    this.hasExpect = false;
    this.#hasTransferEncoding = false;
    this.#hosts = 0;
    this.#connection = 0;
    this.#hasUpgrade = false;
  }

  /**
   * Reads the value (`start` to `end`, untrimmed at its end) of the control field `name`, one of
   * {@link CONTROL_FIELDS}; a refusal when it is malformed or repeated. Trailing whitespace is refused,
   * not trimmed (llhttp, for one, refuses `Content-Length: 2<TAB>`): no two readers can disagree on it.
   */
  read(name: string, buf: Buffer, start: number, end: number): Refusal | undefined {
    switch (name) {
      case 'content-length':
        return this.#readContentLength(buf, start, end);
      case 'transfer-encoding':
        if (this.#hasTransferEncoding) return REFUSED.repeatedTransferEncoding;
        this.#hasTransferEncoding = true;
        // Exactly `chunked`: a list, another coding or another spelling may be read differently by a hop
        // in front of us, and that difference is what request smuggling is made of.
        if (!equalsExactly(buf, start, end, 'chunked')) return REFUSED.transferEncoding;
        this.isChunked = true;
        return undefined;
      case 'host':
        return ++this.#hosts > 1 || !isAuthority(buf, start, end) ? REFUSED.host : undefined;
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
        if (this.hasExpect) return REFUSED.repeatedExpect;
        this.hasExpect = true;
        return equalsLowerCase(buf, start, end, '100-continue') ? undefined : REFUSED.expectation;
      default:
        return undefined;
    }
  }

  #readContentLength(buf: Buffer, start: number, end: number): Refusal | undefined {
    if (this.contentLength !== -1) return REFUSED.repeatedContentLength;
    if (start === end) return REFUSED.contentLength;
    let length = 0;
    for (let i = start; i < end; i++) {
      const digit = (buf[i] as number) - 0x30;
      if (digit < 0 || digit > 9) return REFUSED.contentLength;
      length = length * 10 + digit;
    }
    if (end - start > MAX_LENGTH_DIGITS) return REFUSED.contentLengthTooLarge;
    this.contentLength = length;
    return undefined;
  }

  /** Once every header is read: what only all of them together can refuse. */
  check(isHttp11: boolean): Refusal | undefined {
    if (isHttp11 && this.#hosts === 0) return REFUSED.host;
    if (this.isChunked) {
      if (this.contentLength !== -1) return REFUSED.lengthAndChunked;
      // RFC 9112 §6.1: the framing of an HTTP/1.0 message with Transfer-Encoding cannot be trusted.
      if (!isHttp11) return REFUSED.chunkedHttp10;
    }
    return undefined;
  }

  get framing(): BodyFraming {
    if (this.isChunked) return BodyFraming.Chunked;
    return this.contentLength > 0 ? BodyFraming.Length : BodyFraming.None;
  }

  /**
   * Whether the connection may carry another request: HTTP/1.0 closes unless asked not to, and an
   * upgrade is never performed, and what follows one may not be HTTP, so nothing after it is read.
   */
  keepsAlive(isHttp11: boolean): boolean {
    const connection = this.#connection;
    return (
      !(connection & Flag.close) &&
      (isHttp11 || (connection & Flag.keepAlive) !== 0) &&
      !(connection & Flag.upgrade && this.#hasUpgrade)
    );
  }
}
