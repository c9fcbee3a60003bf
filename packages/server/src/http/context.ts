import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AnswerReservation } from '../answer-budget.js';
import type { Principal } from '../auth/principal.js';
import { type GatewayError, gatewayError } from '../errors.js';
import type { Operation, Route } from './router.js';
import { entityTag, noneMatchHits, VALIDATED_CACHE_CONTROL } from './validators.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

/** The adapter that admitted a request: it feeds the request its body and settles it. */
export interface RequestOwner {
  received(ctx: RequestContext, chunk: Buffer): void;
  ended(ctx: RequestContext): void;
  /** The request became a stream: it no longer counts as in flight (streams have their own cap). */
  streaming(ctx: RequestContext): void;
  /** A share of the AnswerBudget for the request's replies. */
  openAnswer(): AnswerReservation;
  /** The whole answer was handed to the socket (some of it may wait there, unsent). */
  sent(ctx: RequestContext): void;
  /** How long a client may leave part of an answer unread (CACHEGATE_SEND_TIMEOUT_MS). */
  readonly sendTimeoutMs: number;
  settle(ctx: RequestContext): void;
}

/** Unsent bytes past which a sliced answer waits for its reader before writing more. */
const SLICE_HIGH_WATER = 64 * 1024;
/** Longest a sliced answer writes before letting other work run. */
const SLICE_MS = 10;

/**
 * One request on its way through the adapter: what the steps found out about it (route, principal, body)
 * and the headers they want on the response. Handlers answer through it, with one `writeHead` and one
 * `end`; nothing else is allocated per request but the header list and, when there is one, the body.
 */
export class RequestContext {
  readonly owner: RequestOwner;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly id: string;
  /** `performance.now()` when the request arrived. */
  readonly started: number;
  /** The path, without the query string (raw, not percent-decoded). */
  readonly path: string;
  /** The raw query string after `?`, or '' . */
  readonly query: string;
  route: Route | undefined;
  operation: Operation | undefined;
  /** Who sent it, set by the auth step on every non-public route. */
  principal: Principal | undefined;
  /** The raw body, when the request had one. */
  body: Buffer | undefined;
  /** Headers every answer to this request carries (rate limits, CORS, sync token), as `[name, value, ...]`. */
  readonly headers: string[] = [];
  /** The request sent `Expect: 100-continue`: the body step sends the 100 once the request is admitted. */
  expectsContinue = false;
  /** The status answered, for metrics and the log line. */
  status = 0;
  /** True once accounting (in flight, metrics, log) was done: exactly once, however the request ended. */
  isSettled = false;
  /** True once the answer is a stream, which is not counted in flight. */
  isStreaming = false;
  /** A 413 whose body is read and dropped after it, so that a client still sending it sees the answer. */
  drainsBody = false;
  /** True while the request counts in flight: from authentication until it settles or becomes a stream. */
  isCounted = false;
  /** Closes the connection if the client does not read the rest of the answer in time. */
  sendTimer: NodeJS.Timeout | undefined;
  #answer: AnswerReservation | undefined;
  /** Body bytes this request reserves under CACHEGATE_MAX_BUFFERED_BODY_BYTES (its declared length). */
  bodyBytes = 0;
  /** True once the reservation is made (the body is being read); false while it waits for room. */
  isHoldingBody = false;
  /** Body bytes collected so far. */
  chunks: Buffer[] | undefined;
  received = 0;

  constructor(owner: RequestOwner, req: IncomingMessage, res: ServerResponse, id: string, started: number) {
    this.owner = owner;
    this.req = req;
    this.res = res;
    this.id = id;
    this.started = started;
    const url = req.url ?? '/';
    const queryStart = url.indexOf('?');
    this.path = queryStart === -1 ? url : url.slice(0, queryStart);
    this.query = queryStart === -1 ? '' : url.slice(queryStart + 1);
  }

  /**
   * The request's share of the AnswerBudget: the executor counts its replies there, and the encoder chooses
   * from its size whether to write the answer at once or a slice at a time. Released when it settles.
   */
  get answer(): AnswerReservation {
    this.#answer ??= this.owner.openAnswer();
    return this.#answer;
  }

  /** Gives the request's share of the AnswerBudget back (at settle). */
  releaseAnswer(): void {
    this.#answer?.release();
  }

  /** True once the request settled or its connection closed: an answer made now would be for nobody. */
  get isGone(): boolean {
    return this.isSettled || this.res.destroyed;
  }

  /** The principal of an authenticated route (the auth step guarantees it). */
  get caller(): Principal {
    if (this.principal === undefined)
      throw gatewayError('CG_ERR_INTERNAL', 'no principal on an authenticated route');
    return this.principal;
  }

  /** True for the cache API, whose errors carry a code and the request id. */
  get isCacheApi(): boolean {
    return this.path.startsWith('/v1/');
  }

  /** Answers with a body already serialized (JSON unless `contentType` says otherwise). */
  send(status: number, body: string | Buffer, contentType: string = JSON_TYPE): void {
    const res = this.res;
    if (res.headersSent || res.destroyed) return;
    this.status = status;
    res.writeHead(
      status,
      this.#headerObject(contentType, typeof body === 'string' ? Buffer.byteLength(body) : body.length),
    );
    res.end(body);
    this.owner.sent(this);
  }

  /**
   * Answers with a body given in pieces, of a known length or else chunked, written a slice at a time: past
   * {@link SLICE_HIGH_WATER} unsent bytes it waits for the client to read (closing the connection if it
   * does not within CACHEGATE_SEND_TIMEOUT_MS), and it lets other work run every {@link SLICE_MS}, so that a large
   * answer neither holds the event loop nor piles up in memory.
   */
  async sendPieces(
    status: number,
    length: number | undefined,
    pieces: Iterable<string | Buffer>,
    contentType: string = JSON_TYPE,
  ): Promise<void> {
    const res = this.res;
    if (res.headersSent || res.destroyed) return;
    this.status = status;
    res.writeHead(status, this.#headerObject(contentType, length));
    // A socket closed by the peer leaves `res.destroyed` false: without this, the rest would be made for nobody.
    let isClosed = false;
    res.once('close', () => {
      isClosed = true;
    });
    let sliceStart = performance.now();
    for (const piece of pieces) {
      if (isClosed || res.destroyed) return;
      res.write(piece);
      if (res.writableLength >= SLICE_HIGH_WATER) {
        if (!(await drained(res, this.owner.sendTimeoutMs))) {
          res.destroy();
          return;
        }
        sliceStart = performance.now();
      } else if (performance.now() - sliceStart > SLICE_MS) {
        await new Promise((resume) => setImmediate(resume));
        sliceStart = performance.now();
      }
    }
    res.end();
    this.owner.sent(this);
  }

  /**
   * Answers a read whose body depends only on the data read, for the GET routes: a 200 carries a strong
   * `ETag` of its body and `Cache-Control: private, no-cache`, and when the request's `If-None-Match`
   * matches that tag (or is `*`) the answer is `304 Not Modified` with the same headers and no body. Other
   * statuses are sent as `send` sends them, without validators.
   */
  sendValidated(status: number, body: string | Buffer, contentType: string = JSON_TYPE): void {
    if (status !== 200) {
      this.send(status, body, contentType);
      return;
    }
    const tag = entityTag(body);
    this.headers.push('etag', tag, 'cache-control', VALIDATED_CACHE_CONTROL);
    const condition = this.req.headers['if-none-match'];
    if (condition === undefined || !noneMatchHits(condition, tag)) {
      this.send(200, body, contentType);
      return;
    }
    const res = this.res;
    if (res.headersSent || res.destroyed) return;
    this.status = 304;
    // No Content-Type or Content-Length: a 304 describes the representation the client already holds.
    res.writeHead(304, this.#withExtraHeaders({ 'x-request-id': this.id }));
    res.end();
    this.owner.sent(this);
  }

  /**
   * The answer's headers as an object: `writeHead` takes an object as it is, while an array goes through
   * `removeHeader`/`appendHeader` for every entry. Built in one order, so it keeps one shape.
   */
  #headerObject(contentType: string, length: number | undefined): Record<string, string> {
    if (length === undefined)
      return this.#withExtraHeaders({ 'content-type': contentType, 'x-request-id': this.id });
    return this.#withExtraHeaders({
      'content-type': contentType,
      'content-length': String(length),
      'x-request-id': this.id,
    });
  }

  /** Adds the headers the steps collected (`this.headers`) to `object`. */
  #withExtraHeaders(object: Record<string, string>): Record<string, string> {
    const extra = this.headers;
    for (let i = 0; i < extra.length; i += 2) {
      const name = extra[i] as string;
      // A header given twice (Vary from CORS and from a route) keeps both values.
      const previous = object[name];
      object[name] = previous === undefined ? (extra[i + 1] as string) : `${previous}, ${extra[i + 1]}`;
    }
    return object;
  }

  /** Starts a streamed answer (server-sent events) and returns the response to write to. */
  stream(contentType: string): ServerResponse {
    this.status = 200;
    this.isStreaming = true;
    this.owner.streaming(this);
    this.headers.push(
      'content-type',
      contentType,
      'cache-control',
      'no-cache',
      'x-accel-buffering',
      'no',
      'x-request-id',
      this.id,
    );
    this.res.writeHead(200, this.headers);
    this.res.flushHeaders();
    return this.res;
  }

  /**
   * Answers with a catalog error in the format of the route family: `{"error": "<message>"}` for the
   * Upstash routes, `{"error": {"code", "message", "requestId"}}` for the cache API. The code also travels
   * as `Cachegate-Error-Code`, since the Upstash body has no room for it.
   */
  sendError(error: GatewayError): void {
    const headers = this.headers;
    headers.push('cachegate-error-code', error.code);
    if (error.retryAfterSeconds !== undefined) headers.push('retry-after', String(error.retryAfterSeconds));
    if (error.statusCode === 401) headers.push('www-authenticate', 'Bearer');
    if (!error.mayHaveRun) headers.push('cachegate-executed', 'no');
    if (error.allow !== undefined) headers.push('allow', error.allow);
    const body = this.isCacheApi
      ? `{"error":{"code":"${error.code}","message":${JSON.stringify(error.message)},"requestId":${JSON.stringify(this.id)}}}`
      : `{"error":${JSON.stringify(error.message)}}`;
    this.send(error.statusCode, body);
  }
}

/** Resolves true once `res` has no unsent bytes left, false if that takes longer than `timeoutMs` or it closes. */
function drained(res: ServerResponse, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (isDrained: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(isDrained);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
