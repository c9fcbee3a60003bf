import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Config } from '../config.js';
import type { HttpAdapter } from './adapter.js';

/** How often Node checks header and request deadlines (its default, 30 s, made the 10 s limit 10-40 s). */
const DEADLINE_CHECK_INTERVAL_MS = 1000;
/** Headers must arrive within this (slow-loris guard), however long idle keep-alive connections live. */
const HEADERS_TIMEOUT_MS = 10_000;
/** File descriptors kept for what is not a client connection: Redis connections, files, logs. */
const RESERVED_DESCRIPTORS = 256;

/**
 * The gateway's listening socket: `node:http`, or `node:https` with CACHEGATE_TLS_CERT/KEY, with every
 * request going to the adapter. Node enforces the timeouts: headers within 10 s, the whole request within
 * CACHEGATE_REQUEST_TIMEOUT_MS (408), idle keep-alive connections closed after
 * CACHEGATE_KEEP_ALIVE_TIMEOUT_MS. Malformed HTTP gets a JSON error before the connection closes.
 */
export function createListener(config: Config, adapter: HttpAdapter): Server {
  const options = {
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, config.requestTimeoutMs),
    keepAliveTimeout: config.keepAliveTimeoutMs,
    connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
    noDelay: true,
  };
  const server =
    config.tlsCert && config.tlsKey
      ? createHttpsServer(
          { ...options, cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) },
          adapter.onRequest,
        )
      : createHttpServer(options, adapter.onRequest);
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  server.maxConnections = connectionLimit(config.maxConnections);
  server.on(config.tlsCert ? 'secureConnection' : 'connection', adapter.onConnection);
  server.on('checkContinue', adapter.onCheckContinue);
  server.on('checkExpectation', refuseExpectation);
  server.on('clientError', answerClientError);
  return server;
}

/**
 * `wanted`, held below the process's open-file limit less {@link RESERVED_DESCRIPTORS}: idle keep-alive
 * clients past it would otherwise take the descriptors the gateway needs to reach Redis (EMFILE).
 */
export function connectionLimit(wanted: number, limits = readOpenFileLimit()): number {
  if (limits === undefined) return wanted;
  return Math.max(1, Math.min(wanted, limits - RESERVED_DESCRIPTORS));
}

/** The soft open-file limit, on Linux; undefined elsewhere or when unlimited. */
function readOpenFileLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line === null ? undefined : Number(line[1]);
  } catch {
    return undefined;
  }
}

/**
 * An `Expect` other than `100-continue`: 417 in JSON, and the connection closed (no token was checked: a
 * connection earns keep-alive by presenting one). Node would answer it itself and keep the connection.
 */
function refuseExpectation(_req: IncomingMessage, res: ServerResponse) {
  const body = '{"error":"Only Expect: 100-continue is supported"}';
  res.writeHead(417, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(body.length),
    'cachegate-error-code': 'CG_ERR_REQUEST_INVALID',
    connection: 'close',
  });
  res.end(body);
}

/** Malformed requests, oversized headers (431) and requests too slow to arrive (408), in JSON. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket) {
  const inProgress = (socket as Socket & { _httpMessage?: { headersSent: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request did not arrive in time (CACHEGATE_REQUEST_TIMEOUT_MS)']
        : [400, 'Malformed HTTP request'];
  const body = `{"error":"${message}"}`;
  // Closed for good once the answer is out, whatever the peer does: a half-closed socket would keep its
  // connection slot, and the request being read on it would never settle.
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}

/** How long an answer to a malformed or late request may take to reach a client before its socket is cut. */
const CLOSE_GRACE_MS = 1000;
