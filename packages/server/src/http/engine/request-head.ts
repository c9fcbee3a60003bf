/** How a request's body is delimited (RFC 9112 §6.3). */
export const BodyFraming = {
  /** No body: neither Content-Length nor Transfer-Encoding (a request is never read until close). */
  None: 0,
  /** `Content-Length: N`, N > 0 (a length of 0 is reported as `None`). */
  Length: 1,
  /** `Transfer-Encoding: chunked`. */
  Chunked: 2,
} as const;
export type BodyFraming = (typeof BodyFraming)[keyof typeof BodyFraming];

/**
 * A request line and header section, as parsed. One object per request; its strings are all it holds
 * (the header list is one flat array), so a pipelined request behind it may be parsed while it is served.
 */
export class RequestHead {
  /** The method, one of {@link METHODS}. */
  readonly method: string;
  /** The request-target as sent: origin-form (`/path?query`), absolute-form, or `*` for OPTIONS. */
  readonly target: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  readonly versionMinor: 0 | 1;
  /** `[name, value, name, value, ...]`: names lower-cased, values trimmed, in order, repeats kept. */
  readonly headers: string[];
  readonly framing: BodyFraming;
  /** The declared length with `BodyFraming.Length`; 0 otherwise. */
  readonly contentLength: number;
  /** Whether the connection may carry another request after this one (version and `Connection`). */
  readonly keepAlive: boolean;
  /** `Expect: 100-continue` was sent: the client may wait for a `100 Continue` before the body. */
  readonly expectsContinue: boolean;

  constructor(
    method: string,
    target: string,
    versionMinor: 0 | 1,
    headers: string[],
    framing: BodyFraming,
    contentLength: number,
    keepAlive: boolean,
    expectsContinue: boolean,
  ) {
    this.method = method;
    this.target = target;
    this.versionMinor = versionMinor;
    this.headers = headers;
    this.framing = framing;
    this.contentLength = contentLength;
    this.keepAlive = keepAlive;
    this.expectsContinue = expectsContinue;
  }

  /** The first value of a header, by its lower-case name; undefined when absent. */
  header(name: string): string | undefined {
    const headers = this.headers;
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
    return undefined;
  }
}

/**
 * The methods the gateway serves. Any other token is refused with 501 before its headers are read: the
 * routes need no more, and every one of these is a method llhttp knows, so the engine never accepts a
 * request line node:http would refuse. CONNECT (a tunnel) and TRACE (reflects the request) are left out.
 */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const;

/** Lower-case header names seen on nearly every request, returned as shared strings instead of new ones. */
const COMMON_NAMES = [
  'host',
  'connection',
  'content-length',
  'content-type',
  'transfer-encoding',
  'expect',
  'authorization',
  'accept',
  'accept-encoding',
  'accept-language',
  'user-agent',
  'origin',
  'referer',
  'cookie',
  'cache-control',
  'if-none-match',
  'keep-alive',
  'upgrade',
  'x-api-key',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'upstash-encoding',
  'upstash-sync-token',
  'upstash-telemetry-sdk',
  'upstash-telemetry-runtime',
  'upstash-telemetry-platform',
  'access-control-request-method',
  'access-control-request-headers',
] as const;

/** Shared strings by byte length, so a lookup compares bytes against a handful of candidates at most. */
const NAMES_BY_LENGTH = byLength(COMMON_NAMES);
const METHODS_BY_LENGTH = byLength(METHODS);

function byLength(words: readonly string[]): (readonly string[] | undefined)[] {
  const table: string[][] = [];
  for (const word of words) {
    const same = table[word.length];
    if (same === undefined) table[word.length] = [word];
    else same.push(word);
  }
  return table;
}

/**
 * The shared string for a header name when it is a common one, compared case-insensitively; the bytes
 * must already be known to be token characters (then `byte | 0x20` equals a lower-case letter only for
 * that letter in either case, and equals `-` only for `-`).
 */
export function commonHeaderName(buf: Uint8Array, start: number, end: number): string | undefined {
  const candidates = NAMES_BY_LENGTH[end - start];
  if (candidates === undefined) return undefined;
  outer: for (const name of candidates) {
    for (let i = 0; i < name.length; i++) {
      if (((buf[start + i] as number) | 0x20) !== name.charCodeAt(i)) continue outer;
    }
    return name;
  }
  return undefined;
}

/** The method's shared string, compared case-sensitively (methods are); undefined when not served. */
export function knownMethod(buf: Uint8Array, start: number, end: number): string | undefined {
  const candidates = METHODS_BY_LENGTH[end - start];
  if (candidates === undefined) return undefined;
  outer: for (const method of candidates) {
    for (let i = 0; i < method.length; i++) {
      if (buf[start + i] !== method.charCodeAt(i)) continue outer;
    }
    return method;
  }
  return undefined;
}
