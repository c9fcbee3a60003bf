import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AnswerBudget } from '../answer-budget.js';
import type { Principal } from '../auth/principal.js';
import type { TokenStore } from '../auth/token-store.js';
import { GatewayError, gatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics, TelemetryMemo } from '../metrics.js';
import { RequestContext, type RequestOwner } from './context.js';
import type { Cors } from './cors.js';
import type { LoadShedder } from './load-shedder.js';
import type { RateLimiter } from './rate-limiter.js';
import { requestLine } from './request-log.js';
import type { Router } from './router.js';
import { OpenStreams } from './streams.js';

/** Whether the gateway is shutting down, and the open streams to end when it does. */
export class DrainState {
  isDraining = false;
  /** Open server-sent event streams. */
  readonly streams = new OpenStreams();
}

/** What the adapter's steps use. */
export interface AdapterOptions {
  drain: DrainState;
  router: Router;
  tokens: TokenStore;
  limiter: RateLimiter;
  shedder: LoadShedder;
  /** Undefined when CORS is off. */
  cors: Cors | undefined;
  metrics: GatewayMetrics;
  log: Logger & { trace: Logger['debug']; isLevelEnabled(level: string): boolean };
  /** Requests slower than this are logged at warn (CACHEGATE_SLOW_REQUEST_MS); 0: none. */
  slowRequestMs: number;
  maxBodyBytes: number;
  /** Body bytes held at once across the process (CACHEGATE_MAX_BUFFERED_BODY_BYTES). */
  maxBufferedBodyBytes: number;
  /** The memory answers hold (CACHEGATE_MAX_BUFFERED_REPLY_BYTES, CACHEGATE_MAX_ANSWER_BYTES). */
  answers: AnswerBudget;
  /** How long a client may take to read what an answer left unsent (CACHEGATE_SEND_TIMEOUT_MS). */
  sendTimeoutMs: number;
}

/**
 * Unsent response bytes past which a connection starts no further request until its socket drains: a
 * client that pipelines without reading its answers holds at most this much, and one answer more.
 */
const MAX_UNSENT_BYTES = 64 * 1024;

/** Per connection: the request being served, and those pipelined behind it. */
interface Connection {
  readonly adapter: HttpAdapter;
  /** The request being served: one at a time, so no request overtakes the one before it (see mayStart). */
  active: RequestContext | undefined;
  readonly waiting: { req: IncomingMessage; res: ServerResponse; expectsContinue: boolean }[];
  isPaused: boolean;
  isWaitingForDrain: boolean;
  /** The telemetry headers of its previous request, for the client SDK metric. */
  readonly telemetry: TelemetryMemo;
}

const CONNECTION = Symbol('cachegate.connection');
const CONTEXT = Symbol('cachegate.context');
type WithConnection = Socket & { [CONNECTION]?: Connection };
type WithContext = { [CONTEXT]?: RequestContext };

/**
 * The gateway's own HTTP adapter: the one path every request takes, as explicit steps in a fixed order
 * (decision 0010). Per request it costs a context object, its header list, the handler's promise and,
 * when there is a body, its bytes; no framework lifecycle, no hooks.
 *
 * 1. admit: one request at a time per connection (pipelined ones wait, unread, in order);
 * 2. route: the route table, 404 / 405;
 * 3. CORS: preflights answered, headers for allowed origins;
 * 4. draining: 503 while shutting down, and `Connection: close` on every answer;
 * 5. public routes (health, the API document) are served here, without a token and without a body;
 * 6. load: 503 past CACHEGATE_MAX_IN_FLIGHT or while the event loop lags;
 * 7. auth: token -> principal. Nothing shared (in-flight count, body budget, Redis) is taken before it;
 * 8. rate limit;
 * 9. body: read within CACHEGATE_MAX_BODY_BYTES (413), once it fits under CACHEGATE_MAX_BUFFERED_BODY_BYTES
 *    and its token's half of it (until then it waits, unread), `100 Continue` only for admitted requests;
 * 10. handler: policy, executor and encoder, through the command routes; its replies are held within the
 *     AnswerBudget;
 * 11. settle, exactly once however the request ends (answered, aborted, connection reset, timed out):
 *     in-flight count, body and answer budgets, metrics, the log line, the next pipelined request.
 * An answer given before the request's body was read (401, 404, 413, 429, 503, ...) closes the connection
 * once sent: reading on would cost the body's bytes for nothing, and stopping leaves the protocol in doubt.
 * An answer the client does not read within CACHEGATE_SEND_TIMEOUT_MS closes its connection.
 */
export class HttpAdapter implements RequestOwner {
  readonly #options: AdapterOptions;
  readonly #bootId = randomBytes(4).toString('hex');
  #requestCount = 0;
  #inFlight = 0;
  /** Body bytes reserved by requests between reading their body and settling, in all and per owner. */
  #bufferedBytes = 0;
  readonly #bufferedBy = new Map<object, number>();
  /** Requests in flight per token, so that a lagging gateway sheds the tokens that load it (see reason). */
  readonly #inFlightBy = new Map<Principal, number>();
  /** Requests with a body waiting for room under CACHEGATE_MAX_BUFFERED_BODY_BYTES, first come first. */
  readonly #waitingForRoom: RequestContext[] = [];
  /** Open client connections, for draining (TLS: once past the handshake). */
  readonly #sockets = new Set<Socket>();

  constructor(options: AdapterOptions) {
    this.#options = options;
  }

  /** Authenticated requests started and not yet settled (streams and public routes excluded). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Client connections open now (TLS: past the handshake). */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Request body bytes reserved now (the `cachegate_body_bytes_reserved` gauge). */
  get bufferedBodyBytes(): number {
    return this.#bufferedBytes;
  }

  /** The server's `connection` (HTTP) or `secureConnection` (HTTPS) listener. */
  readonly onConnection = (socket: Socket): void => {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  };

  /** The server's `request` listener. */
  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => this.#admit(req, res, false);

  /** The server's `checkContinue` listener: the 100 is sent once auth and limits let the request in. */
  readonly onCheckContinue = (req: IncomingMessage, res: ServerResponse): void => this.#admit(req, res, true);

  /**
   * Drains: no new connections; requests in progress finish and their connections close after them;
   * requests arriving meanwhile get 503; connections with no request in progress (idle keep-alive ones,
   * and ones that never sent a whole request) are closed now and every 100 ms; streams end. Resolves once
   * every connection is gone.
   */
  async drain(server: Server): Promise<void> {
    this.#options.drain.isDraining = true;
    this.#options.drain.streams.endAll();
    const closed = new Promise<void>((done) => server.close(() => done()));
    const sweep = () => {
      for (const socket of this.#sockets) {
        const connection = (socket as WithConnection)[CONNECTION];
        if (connection === undefined || (connection.active === undefined && connection.waiting.length === 0))
          socket.destroy();
      }
    };
    setImmediate(sweep);
    const sweeper = setInterval(sweep, 100);
    await closed;
    clearInterval(sweeper);
  }

  #admit(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) {
    const socket = req.socket as WithConnection;
    let connection = socket[CONNECTION];
    if (connection === undefined) {
      connection = {
        adapter: this,
        active: undefined,
        waiting: [],
        isPaused: false,
        isWaitingForDrain: false,
        telemetry: {},
      };
      socket[CONNECTION] = connection;
      socket.once('close', onSocketClose);
    }
    if (connection.waiting.length === 0 && mayStart(connection, socket)) {
      this.#start(req, res, connection, expectsContinue);
      return;
    }
    connection.waiting.push({ req, res, expectsContinue });
    if (!connection.isPaused) {
      connection.isPaused = true;
      socket.pause();
    }
  }

  #start(req: IncomingMessage, res: ServerResponse, connection: Connection, expectsContinue: boolean) {
    const ctx = new RequestContext(this, req, res, this.#requestId(req), performance.now());
    ctx.expectsContinue = expectsContinue;
    (res as ServerResponse & WithContext)[CONTEXT] = ctx;
    res.on('close', onResponseClose);
    connection.active = ctx;
    try {
      this.#route(ctx);
    } catch (error) {
      this.fail(ctx, error);
    }
  }

  #route(ctx: RequestContext) {
    const { req, res } = ctx;
    const match = this.#options.router.match(ctx.path, req.method ?? 'GET');
    const route = match?.route;
    ctx.route = route;
    const cors = this.#options.cors;
    const origin = req.headers.origin;
    if (cors !== undefined && origin !== undefined) {
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        ctx.status = 204;
        ctx.headers.push(
          ...cors.preflightHeaders(origin),
          'content-length',
          '0',
          'x-request-id',
          ctx.id,
          // No token yet: a connection earns keep-alive by presenting one.
          'connection',
          'close',
        );
        res.writeHead(204, ctx.headers);
        res.end();
        return;
      }
      ctx.headers.push(...cors.headersFor(origin));
    }
    // Nothing of the request (its target may hold credentials) is echoed.
    if (route === undefined) throw gatewayError('CG_ERR_ROUTE_NOT_FOUND', 'No route serves this path');
    const operation = match?.operation;
    if (operation === undefined) {
      const allow = Object.keys(route.operations).join(', ');
      const error = gatewayError(
        'CG_ERR_METHOD_NOT_ALLOWED',
        `This method is not allowed here; use ${allow}`,
      );
      error.allow = allow;
      throw error;
    }
    ctx.operation = operation;
    if (this.#options.drain.isDraining) ctx.headers.push('connection', 'close');
    if (route.isPublic) {
      if (hasBody(req)) {
        throw gatewayError('CG_ERR_REQUEST_INVALID', 'This route takes no request body');
      }
      // No token: answered, then closed (a connection earns keep-alive by presenting one).
      ctx.headers.push('connection', 'close');
      return this.#run(ctx);
    }
    if (this.#options.drain.isDraining) throw gatewayError('CG_ERR_SHUTTING_DOWN');
    const principal = this.#authenticate(ctx);
    const held = this.#inFlightBy.get(principal) ?? 0;
    const overload = this.#options.shedder.reason(this.#inFlight + 1, held);
    if (overload !== undefined) throw gatewayError('CG_ERR_OVERLOADED', overload);
    ctx.principal = principal;
    ctx.isCounted = true;
    this.#inFlight++;
    this.#inFlightBy.set(principal, held + 1);
    // Counted once authenticated, so that callers without a token cannot crowd out the label values.
    const headers = req.headers;
    const connection = (req.socket as WithConnection)[CONNECTION];
    if (connection !== undefined) {
      this.#options.metrics.clientRequest(
        connection.telemetry,
        headerText(headers['upstash-telemetry-sdk']),
        headerText(headers['upstash-telemetry-runtime']),
        headerText(headers['upstash-telemetry-platform']),
      );
    }
    const limited = this.#options.limiter.apply(ctx, principal);
    if (limited === undefined) return this.#receive(ctx);
    if (limited instanceof GatewayError) throw limited;
    limited.then(
      (error) => (error === undefined ? this.#receive(ctx) : this.fail(ctx, error)),
      (error: unknown) => this.fail(ctx, error),
    );
  }

  /**
   * The token, from `Authorization: Bearer <token>`, `X-API-Key: <token>` or `?_token=<token>`, in that
   * order, resolved to its principal.
   */
  #authenticate(ctx: RequestContext) {
    const headers = ctx.req.headers;
    let token: string | undefined;
    const authorization = headers.authorization;
    if (authorization !== undefined) {
      const match = BEARER.exec(authorization);
      token = match?.[1];
    } else {
      const apiKey = headers['x-api-key'];
      if (typeof apiKey === 'string' && apiKey !== '') token = apiKey;
      else if (ctx.query !== '') token = tokenFromQuery(ctx.query);
    }
    if (token === undefined) throw gatewayError('CG_ERR_AUTH_MISSING');
    const principal = this.#options.tokens.authenticate(token);
    if (principal === undefined) throw gatewayError('CG_ERR_AUTH_INVALID');
    return principal;
  }

  /** Reads the body, if the request has one, then runs the handler. */
  #receive(ctx: RequestContext) {
    const req = ctx.req;
    if (!hasBody(req)) return this.#run(ctx);
    const length = req.headers['content-length'];
    const max = this.#options.maxBodyBytes;
    if (length !== undefined && Number(length) > max) {
      // Drained only when it is on its way: after `Expect: 100-continue` it was never asked for.
      return this.#tooLarge(ctx, !ctx.expectsContinue && Number(length) <= 2 * max);
    }
    // Reserved until the request settles: the body's bytes, and the strings and values made from them,
    // live until it is answered. A chunked body may grow to the limit, so it reserves the limit.
    ctx.bodyBytes = length === undefined ? max : Number(length);
    // Not read while it waits: Node stops reading its socket, and the client's sends stall in TCP.
    this.#waitingForRoom.push(ctx);
    this.#startBodies();
  }

  /**
   * Whether `ctx`'s body fits in the budget: the whole of it, and half of it for its owner (a tokens-file
   * database, all its tokens together, or else the token), so that one owner's slow bodies cannot hold
   * everyone else's requests. A body larger than that still runs, alone.
   */
  #hasRoomFor(ctx: RequestContext): 'yes' | 'no' | 'not for its owner' {
    const max = this.#options.maxBufferedBodyBytes;
    const bytes = ctx.bodyBytes;
    if (this.#bufferedBytes !== 0 && this.#bufferedBytes + bytes > max) return 'no';
    const held = this.#bufferedBy.get(ownerOf(ctx.caller)) ?? 0;
    return held === 0 || held + bytes <= max / 2 ? 'yes' : 'not for its owner';
  }

  /**
   * Starts reading the waiting bodies that now fit, first come first. A large body that must wait for room
   * holds back the large ones behind it, not small ones (SMALL_BODY_BYTES), which it would barely delay;
   * one that waits for its own owner's bodies holds back no one.
   */
  #startBodies() {
    const waiting = this.#waitingForRoom;
    let isLargeHeld = false;
    for (let i = 0; i < waiting.length; ) {
      const ctx = waiting[i] as RequestContext;
      const room = isLargeHeld && ctx.bodyBytes > SMALL_BODY_BYTES ? 'no' : this.#hasRoomFor(ctx);
      if (room === 'yes') {
        waiting.splice(i, 1);
        this.#read(ctx);
        continue;
      }
      if (room === 'no' && ctx.bodyBytes > SMALL_BODY_BYTES) isLargeHeld = true;
      i++;
    }
  }

  /** Reserves the body's bytes and reads it. */
  #read(ctx: RequestContext) {
    const req = ctx.req;
    this.#bufferedBytes += ctx.bodyBytes;
    const owner = ownerOf(ctx.caller);
    this.#bufferedBy.set(owner, (this.#bufferedBy.get(owner) ?? 0) + ctx.bodyBytes);
    ctx.isHoldingBody = true;
    if (ctx.expectsContinue) ctx.res.writeContinue();
    ctx.chunks = [];
    (req as IncomingMessage & WithContext)[CONTEXT] = ctx;
    req.on('data', onBodyData);
    req.on('end', onBodyEnd);
  }

  /**
   * 413. A body declared at most twice the limit is read and dropped after it (Node does so for a body
   * left unread), since a client still sending it would otherwise get a reset instead of the 413; past
   * that, the connection closes after the answer: the rest is not worth reading.
   */
  #tooLarge(ctx: RequestContext, isDrained = false) {
    if (isDrained) ctx.drainsBody = true;
    else ctx.headers.push('connection', 'close');
    this.fail(
      ctx,
      gatewayError(
        'CG_ERR_BODY_TOO_LARGE',
        `Request body is larger than ${this.#options.maxBodyBytes} bytes (CACHEGATE_MAX_BODY_BYTES)`,
      ),
    );
  }

  /** A body chunk arrived. */
  received(ctx: RequestContext, chunk: Buffer) {
    if (ctx.status !== 0 || ctx.chunks === undefined) return;
    ctx.received += chunk.length;
    if (ctx.received > this.#options.maxBodyBytes) {
      ctx.chunks = undefined;
      return this.#tooLarge(ctx);
    }
    ctx.chunks.push(chunk);
  }

  /** The whole body arrived. */
  ended(ctx: RequestContext) {
    const chunks = ctx.chunks;
    if (ctx.status !== 0 || chunks === undefined || ctx.isSettled) return;
    ctx.chunks = undefined;
    ctx.body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    this.#run(ctx);
  }

  #run(ctx: RequestContext) {
    let result: Promise<void> | void;
    try {
      result = ctx.operation?.handle(ctx);
    } catch (error) {
      return this.fail(ctx, error);
    }
    result?.then(undefined, (error: unknown) => this.fail(ctx, error));
  }

  /**
   * Answers a failure: catalog errors as they are, anything else (a bug) logged with its stack and
   * answered with a generic 500 that leaks nothing. A stream that fails after it started is cut.
   */
  fail(ctx: RequestContext, error: unknown) {
    let known: GatewayError;
    if (error instanceof GatewayError) known = error;
    else {
      this.#options.log.error({ err: error, reqId: ctx.id }, 'unhandled error');
      known = gatewayError('CG_ERR_INTERNAL');
    }
    this.#options.metrics.errorAnswered(known.code);
    if (ctx.res.headersSent) {
      ctx.res.destroy();
      return;
    }
    // The body was not read (or not all of it): closing is cheaper than reading it, and leaves no doubt
    // about where the next request starts. A connection earns keep-alive by presenting a valid token.
    if ((hasBody(ctx.req) && !ctx.req.complete && !ctx.drainsBody) || ctx.principal === undefined) {
      ctx.headers.push('connection', 'close');
    }
    ctx.sendError(known);
  }

  streaming(ctx: RequestContext) {
    if (!ctx.isSettled && ctx.isCounted) this.#uncount(ctx);
  }

  /** The request no longer counts in flight (it settled, or became a stream). */
  #uncount(ctx: RequestContext) {
    ctx.isCounted = false;
    this.#inFlight--;
    const principal = ctx.caller;
    const held = (this.#inFlightBy.get(principal) ?? 1) - 1;
    if (held > 0) this.#inFlightBy.set(principal, held);
    else this.#inFlightBy.delete(principal);
  }

  get sendTimeoutMs(): number {
    return this.#options.sendTimeoutMs;
  }

  /**
   * Holds what a body costs once parsed (its text and its values, see parseJsonBody) in the body budget,
   * in place of its length: later bodies wait for room accordingly. One body may cost at most
   * {@link BODY_COST_FACTOR} times CACHEGATE_MAX_BODY_BYTES.
   */
  holdBody(ctx: RequestContext, bytes: number) {
    const max = BODY_COST_FACTOR * this.#options.maxBodyBytes;
    if (bytes > max) {
      throw gatewayError(
        'CG_ERR_BODY_TOO_LARGE',
        `The request body holds too many JSON values: parsed, it would take about ${bytes} bytes, over ${max} ` +
          `(${BODY_COST_FACTOR} x CACHEGATE_MAX_BODY_BYTES, counting its values as well as its bytes)`,
      );
    }
    const extra = bytes - ctx.bodyBytes;
    if (extra <= 0 || !ctx.isHoldingBody) return;
    ctx.bodyBytes = bytes;
    this.#bufferedBytes += extra;
    const owner = ownerOf(ctx.caller);
    this.#bufferedBy.set(owner, (this.#bufferedBy.get(owner) ?? 0) + extra);
  }

  /** Opens the share of the AnswerBudget a request's replies are held in; released when it settles. */
  openAnswer() {
    return this.#options.answers.open();
  }

  /**
   * The answer was handed to the socket. If some of it waits unsent, the client has
   * CACHEGATE_SEND_TIMEOUT_MS to read it before the connection closes: a reader that stalls must not hold
   * the answer's memory, its connection slot and its request's accounting for ever.
   */
  sent(ctx: RequestContext) {
    const socket = ctx.req.socket;
    if (socket.writableLength === 0 || ctx.isSettled) return;
    ctx.sendTimer = setTimeout(() => socket.destroy(), this.#options.sendTimeoutMs);
    ctx.sendTimer.unref();
  }

  /** Accounting, once per request, however it ended; then the next request of its connection. */
  settle(ctx: RequestContext) {
    if (ctx.isSettled) return;
    ctx.isSettled = true;
    if (ctx.isCounted) this.#uncount(ctx);
    clearTimeout(ctx.sendTimer);
    ctx.releaseAnswer();
    if (ctx.bodyBytes > 0) this.#releaseBody(ctx);
    const { req } = ctx;
    const route = ctx.route?.path ?? 'unmatched';
    // 499: the client went away before it was answered (the nginx convention).
    const status = ctx.status === 0 ? 499 : ctx.status;
    const seconds = (performance.now() - ctx.started) / 1000;
    this.#options.metrics.requestCompleted(route, req.method ?? 'GET', status, seconds);
    const durationMs = Math.round(seconds * 100_000) / 100;
    const line = requestLine(route, status, durationMs, this.#options.slowRequestMs, ctx.isStreaming);
    if (this.#options.log.isLevelEnabled(line.level)) {
      this.#options.log[line.level](
        { reqId: ctx.id, method: req.method, route, status, durationMs, token: ctx.principal?.name },
        line.message,
      );
    }
    const socket = req.socket as WithConnection;
    const connection = socket[CONNECTION];
    if (connection === undefined) return;
    if (connection.active === ctx) connection.active = undefined;
    this.#next(connection, socket);
  }

  /** Gives back a settled request's body budget (or its place in line), and starts those that now fit. */
  #releaseBody(ctx: RequestContext) {
    if (ctx.isHoldingBody) {
      this.#bufferedBytes -= ctx.bodyBytes;
      const owner = ownerOf(ctx.caller);
      const held = (this.#bufferedBy.get(owner) ?? 0) - ctx.bodyBytes;
      if (held > 0) this.#bufferedBy.set(owner, held);
      else this.#bufferedBy.delete(owner);
    } else {
      const index = this.#waitingForRoom.indexOf(ctx);
      if (index !== -1) this.#waitingForRoom.splice(index, 1);
    }
    this.#startBodies();
  }

  /** Starts waiting requests of a connection while it has room, and reads again once none wait. */
  #next(connection: Connection, socket: Socket) {
    for (let next = connection.waiting[0]; next !== undefined; next = connection.waiting[0]) {
      if (!mayStart(connection, socket)) {
        if (socket.writableLength < MAX_UNSENT_BYTES) return;
        if (!connection.isWaitingForDrain) {
          connection.isWaitingForDrain = true;
          socket.once('drain', () => {
            connection.isWaitingForDrain = false;
            this.#next(connection, socket);
          });
        }
        return;
      }
      connection.waiting.shift();
      this.#start(next.req, next.res, connection, next.expectsContinue);
    }
    if (connection.waiting.length === 0 && connection.isPaused && !socket.destroyed) {
      connection.isPaused = false;
      socket.resume();
    }
  }

  /** The caller's `X-Request-Id` when it is a sane one, else `<boot id>-<counter>`. */
  #requestId(req: IncomingMessage): string {
    const given = req.headers['x-request-id'];
    if (typeof given === 'string' && REQUEST_ID.test(given)) return given;
    return `${this.#bootId}-${++this.#requestCount}`;
  }
}

/** A header's value when it is one string (Node joins repeats of unknown headers into one). */
function headerText(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' ? header : undefined;
}

const BEARER = /^bearer\s+(\S+)\s*$/i;

/**
 * The first `_token` of a raw query string, percent-decoded only: form decoding (URLSearchParams) would
 * turn the `+` of a base64 token into a space. A malformed escape is left as sent, and fails as a wrong
 * token would.
 */
function tokenFromQuery(query: string): string | undefined {
  for (let start = 0; start < query.length; ) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (query.startsWith('_token=', start)) {
      const raw = query.slice(start + 7, end);
      if (raw === '' || !raw.includes('%')) return raw || undefined;
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
    start = end + 1;
  }
  return undefined;
}

/**
 * Whether a connection may start its next request now: once the one before it settled, so that a read
 * never overtakes a write sent before it on the same connection (a `GET /set/...` writes too, and the
 * near cache answers reads without waiting for Redis), and not while MAX_UNSENT_BYTES of answers wait to
 * be sent.
 */
function mayStart(connection: Connection, socket: Socket): boolean {
  return connection.active === undefined && socket.writableLength < MAX_UNSENT_BYTES;
}

/**
 * How much more than CACHEGATE_MAX_BODY_BYTES one body may cost once parsed: enough for a 10 MiB command of
 * short arguments (about five times its text), not for one of millions of empty objects or numbers.
 */
export const BODY_COST_FACTOR = 6;

/** Bodies this small never wait behind a larger one that does not fit yet. */
const SMALL_BODY_BYTES = 64 * 1024;

/** Who a body's bytes count against: a tokens-file database as a whole (a tenant), or else the token. */
function ownerOf(principal: Principal): object {
  return principal.database ?? principal;
}

/** Whether a request says it has a body (a length other than 0, or a transfer coding). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}
const REQUEST_ID = /^[\w.:-]{1,64}$/;

// Listeners shared by every request, so that none is a new closure: each finds its context on `this`.
function onResponseClose(this: ServerResponse & WithContext) {
  const ctx = this[CONTEXT];
  ctx?.owner.settle(ctx);
}

function onBodyData(this: IncomingMessage & WithContext, chunk: Buffer) {
  const ctx = this[CONTEXT];
  ctx?.owner.received(ctx, chunk);
}

function onBodyEnd(this: IncomingMessage & WithContext) {
  const ctx = this[CONTEXT];
  ctx?.owner.ended(ctx);
}

/**
 * The socket closed. The request being served is settled (its response may never get a `close` of its
 * own; issue 11, class 1); those waiting behind it are dropped.
 */
function onSocketClose(this: WithConnection) {
  const connection = this[CONNECTION];
  if (connection === undefined) return;
  connection.waiting.length = 0;
  if (connection.active !== undefined) connection.adapter.settle(connection.active);
}
