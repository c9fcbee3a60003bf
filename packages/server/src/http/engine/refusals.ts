/**
 * Why the parser refused a request: the status to answer with (the connection closes after it) and a short
 * reason. The reasons are constants: nothing from the request is echoed back, so a refusal can neither
 * reflect an attacker's bytes into a log or a page nor grow with the input.
 */
export interface Refusal {
  readonly status: 400 | 413 | 414 | 417 | 431 | 501 | 505;
  readonly reason: string;
}

const refusal = (status: Refusal['status'], reason: string): Refusal => Object.freeze({ status, reason });

/** Every refusal the parser makes, one frozen object each (nothing is allocated to refuse). */
export const REFUSED = {
  // The shape of lines.
  bareLineFeed: refusal(400, 'Line ends must be CRLF'),
  bareCarriageReturn: refusal(400, 'Carriage return outside a line end'),
  requestLine: refusal(400, 'Malformed request line'),
  method: refusal(400, 'Malformed method'),
  target: refusal(400, 'Malformed request target'),
  targetForm: refusal(400, 'Request target form not allowed for this method'),
  version: refusal(400, 'Malformed HTTP version'),
  unsupportedVersion: refusal(505, 'Only HTTP/1.0 and HTTP/1.1 are supported'),
  unsupportedMethod: refusal(501, 'Method not implemented'),
  // Header fields.
  obsFold: refusal(400, 'Folded header lines are not accepted'),
  fieldName: refusal(400, 'Malformed header name'),
  spaceBeforeColon: refusal(400, 'Whitespace before a header colon'),
  fieldValue: refusal(400, 'Forbidden character in a header value'),
  headerTooLarge: refusal(431, 'Request headers are too large'),
  tooManyHeaders: refusal(431, 'Too many request headers'),
  requestLineTooLong: refusal(414, 'Request line is too long'),
  connection: refusal(400, 'Malformed Connection'),
  host: refusal(400, 'Missing, repeated or malformed Host'),
  expectation: refusal(417, 'Only Expect: 100-continue is supported'),
  repeatedExpect: refusal(400, 'Repeated Expect'),
  // Body framing (request smuggling lives here).
  contentLength: refusal(400, 'Malformed Content-Length'),
  repeatedContentLength: refusal(400, 'Repeated Content-Length'),
  contentLengthTooLarge: refusal(413, 'Content-Length is too large'),
  lengthAndChunked: refusal(400, 'Both Content-Length and Transfer-Encoding'),
  transferEncoding: refusal(501, 'Only Transfer-Encoding: chunked is supported'),
  repeatedTransferEncoding: refusal(400, 'Repeated Transfer-Encoding'),
  chunkedHttp10: refusal(400, 'Transfer-Encoding in an HTTP/1.0 request'),
  chunkSize: refusal(400, 'Malformed chunk size'),
  chunkTooLarge: refusal(413, 'Chunk size is too large'),
  chunkExtension: refusal(400, 'Malformed or oversized chunk extension'),
  chunkEnd: refusal(400, 'Chunk data not followed by CRLF'),
  trailers: refusal(431, 'Trailer section is too large'),
  trailerField: refusal(400, 'Framing or connection field in trailers'),
  incomplete: refusal(400, 'Connection ended inside a request'),
} as const;
