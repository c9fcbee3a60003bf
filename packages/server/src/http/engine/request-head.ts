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
  /** The method, one of `METHODS` (known-names.ts). */
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
