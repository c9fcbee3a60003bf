import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TokenStore } from '../auth/token-store.js';
import { GatewayError, gatewayError } from '../errors.js';
import type { GatewayMetrics, TelemetryMemo } from '../metrics.js';
import type { Logger } from '../redis/types.js';
import { RequestContext, type RequestOwner } from './context.js';
import type { Cors } from './cors.js';
import type { LoadShedder } from './load-shedder.js';
import type { RateLimiter } from './rate-limiter.js';
import { requestLine } from './request-log.js';
import type { Router } from './router.js';

/** Whether the gateway is shutting down, and the open streams to end when it does. */
export class DrainState {
  isDraining = false;
  /** Open server-sent event streams. */
  readonly streams = new Set<ServerResponse>();
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
}

/**
 * Requests served at once per connection (HTTP/1.1 pipelining). Those parsed behind them wait their turn
 * and the socket stops reading, so one client that pipelines without reading its answers holds a bounded
 * amount of memory: at most this many replies, and the unsent bytes below.
 */
const MAX_ACTIVE_PER_CONNECTION = 8;
/** Unsent response bytes past which a connection starts no further request until its socket drains. */
const MAX_UNSENT_BYTES = 1024 * 1024;

/** Per connection: the requests being served and those waiting behind them. */
interface Connection {
  readonly adapter: HttpAdapter;
  readonly active: RequestContext[];
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
 * 1. admit: per-connection concurrency (pipelining backpressure), in-flight count;
 * 2. route: the route table, 404 / 405;
 * 3. CORS: preflights answered, headers for allowed origins;
 * 4. draining: 503 while shutting down, and `Connection: close` on every answer;
 * 5. load: 503 past CACHEGATE_MAX_IN_FLIGHT or while the event loop lags;
 * 6. auth: token -> principal, before the body is read;
 * 7. rate limit;
 * 8. body: read within CACHEGATE_MAX_BODY_BYTES (413), once it fits under CACHEGATE_MAX_BUFFERED_BODY_BYTES
 *    (until then it waits, unread), `100 Continue` only for admitted requests;
 * 9. handler: policy, executor and encoder, through the command routes;
 * 10. settle, exactly once however the request ends (answered, aborted, connection reset): in-flight
 *     count, metrics, the log line, the next pipelined request.
 * Public routes (health, the API document) skip 4-7.
 */
export class HttpAdapter implements RequestOwner {
  readonly #options: AdapterOptions;
  readonly #bootId = randomBytes(4).toString('hex');
  #requestCount = 0;
  #inFlight = 0;
  /** Body bytes reserved by requests between reading their body and settling. */
  #bufferedBytes = 0;
  /** Requests with a body waiting for room under CACHEGATE_MAX_BUFFERED_BODY_BYTES, first come first. */
  readonly #waitingForRoom: RequestContext[] = [];
  /** Open client connections, for draining (TLS: once past the handshake). */
  readonly #sockets = new Set<Socket>();

  constructor(options: AdapterOptions) {
    this.#options = options;
  }

  /** Requests started and not yet settled (health probes included). */
  get inFlight(): number {
    return this.#inFlight;
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
    for (const stream of this.#options.drain.streams) stream.end();
    const closed = new Promise<void>((done) => server.close(() => done()));
    const sweep = () => {
      for (const socket of this.#sockets) {
        const connection = (socket as WithConnection)[CONNECTION];
        if (connection === undefined || connection.active.length + connection.waiting.length === 0)
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
        active: [],
        waiting: [],
        isPaused: false,
        isWaitingForDrain: false,
        telemetry: {},
      };
      socket[CONNECTION] = connection;
      socket.once('close', onSocketClose);
    }
    if (connection.waiting.length === 0 && mayStart(connection, req, socket)) {
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
    connection.active.push(ctx);
    this.#inFlight++;
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
        ctx.headers.push(...cors.preflightHeaders(origin), 'content-length', '0', 'x-request-id', ctx.id);
        res.writeHead(204, ctx.headers);
        res.end();
        return;
      }
      ctx.headers.push(...cors.headersFor(origin));
    }
    if (route === undefined) {
      throw gatewayError('CG_ERR_ROUTE_NOT_FOUND', `No route for ${req.method} ${ctx.path}`);
    }
    const operation = match?.operation;
    if (operation === undefined) {
      const allow = Object.keys(route.operations).join(', ');
      const error = gatewayError(
        'CG_ERR_METHOD_NOT_ALLOWED',
        `${req.method} is not allowed here; use ${allow}`,
      );
      error.allow = allow;
      throw error;
    }
    ctx.operation = operation;
    if (this.#options.drain.isDraining) ctx.headers.push('connection', 'close');
    if (route.isPublic) return this.#receive(ctx);
    if (this.#options.drain.isDraining) throw gatewayError('CG_ERR_SHUTTING_DOWN');
    const overload = this.#options.shedder.reason(this.#inFlight);
    if (overload !== undefined) throw gatewayError('CG_ERR_OVERLOADED', overload);
    const principal = this.#authenticate(ctx);
    ctx.principal = principal;
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
    const length = req.headers['content-length'];
    if ((length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined) {
      return this.#run(ctx);
    }
    const max = this.#options.maxBodyBytes;
    if (length !== undefined && Number(length) > max) {
      // Drained only when it is on its way: after `Expect: 100-continue` it was never asked for.
      return this.#tooLarge(ctx, !ctx.expectsContinue && Number(length) <= 2 * max);
    }
    // Reserved until the request settles: the body's bytes, and the strings and values made from them,
    // live until it is answered. A chunked body may grow to the limit, so it reserves the limit.
    ctx.bodyBytes = length === undefined ? max : Number(length);
    if (this.#waitingForRoom.length > 0 || !this.#hasRoomFor(ctx.bodyBytes)) {
      // Not read meanwhile: Node stops reading its socket, and the client's sends stall in TCP.
      this.#waitingForRoom.push(ctx);
      return;
    }
    this.#read(ctx);
  }

  /** Whether `bytes` more fit in the budget. A body larger than the whole budget still runs, alone. */
  #hasRoomFor(bytes: number): boolean {
    return this.#bufferedBytes === 0 || this.#bufferedBytes + bytes <= this.#options.maxBufferedBodyBytes;
  }

  /** Reserves the body's bytes and reads it. */
  #read(ctx: RequestContext) {
    const req = ctx.req;
    this.#bufferedBytes += ctx.bodyBytes;
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
    if (!isDrained) ctx.headers.push('connection', 'close');
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
    ctx.sendError(known);
  }

  streaming(ctx: RequestContext) {
    if (!ctx.isSettled) this.#inFlight--;
  }

  /** Accounting, once per request, however it ended; then the next request of its connection. */
  settle(ctx: RequestContext) {
    if (ctx.isSettled) return;
    ctx.isSettled = true;
    if (!ctx.isStreaming) this.#inFlight--;
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
    const index = connection.active.indexOf(ctx);
    if (index !== -1) connection.active.splice(index, 1);
    this.#next(connection, socket);
  }

  /** Gives back a settled request's body budget (or its place in line), and starts those that now fit. */
  #releaseBody(ctx: RequestContext) {
    if (ctx.isHoldingBody) this.#bufferedBytes -= ctx.bodyBytes;
    else {
      const index = this.#waitingForRoom.indexOf(ctx);
      if (index !== -1) this.#waitingForRoom.splice(index, 1);
    }
    for (let next = this.#waitingForRoom[0]; next !== undefined; next = this.#waitingForRoom[0]) {
      if (!this.#hasRoomFor(next.bodyBytes)) return;
      this.#waitingForRoom.shift();
      this.#read(next);
    }
  }

  /** Starts waiting requests of a connection while it has room, and reads again once none wait. */
  #next(connection: Connection, socket: Socket) {
    for (let next = connection.waiting[0]; next !== undefined; next = connection.waiting[0]) {
      if (!mayStart(connection, next.req, socket)) {
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
 * Whether a connection may start `req` now. Answers go out in order whatever happens, but execution order
 * matters too: requests run side by side only while they are all safe (GET, HEAD), as RFC 9112 allows
 * for pipelining; a write runs alone, after those before it and before those after it. And no more
 * than MAX_ACTIVE_PER_CONNECTION at once, nor while MAX_UNSENT_BYTES of answers wait to be sent.
 */
function mayStart(connection: Connection, req: IncomingMessage, socket: Socket): boolean {
  const { active } = connection;
  if (socket.writableLength >= MAX_UNSENT_BYTES) return false;
  if (active.length === 0) return true;
  if (active.length >= MAX_ACTIVE_PER_CONNECTION) return false;
  return isSafe(req) && active.every((ctx) => isSafe(ctx.req));
}

function isSafe(req: IncomingMessage): boolean {
  return req.method === 'GET' || req.method === 'HEAD';
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
 * The socket closed. Requests still active are settled: a response queued behind another one on a
 * pipelined connection never gets its own `close` (issue 11, class 1). Those waiting are dropped.
 */
function onSocketClose(this: WithConnection) {
  const connection = this[CONNECTION];
  if (connection === undefined) return;
  connection.waiting.length = 0;
  for (const ctx of [...connection.active]) connection.adapter.settle(ctx);
}
