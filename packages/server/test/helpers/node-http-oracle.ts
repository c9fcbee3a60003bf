import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';

/** One request as node:http (llhttp) handed it to its `request` listener. */
export interface OracleRequest {
  method: string;
  url: string;
  /** `rawHeaders`: names as sent, values as node read them. */
  rawHeaders: string[];
  /** The body, latin1 (every byte survives). */
  body: string;
  /** True once its `end` came: node read the whole body. */
  isComplete: boolean;
}

/** What node:http made of the bytes of one connection. */
export interface OracleOutcome {
  requests: OracleRequest[];
  /** The `clientError` code, when node refused the input. */
  clientError: string | undefined;
  /** True when the connection did not close within the time allowed (node still waiting for bytes). */
  hasTimedOut: boolean;
}

/** A node:http server on port 0 that records what it parses, per connection. */
export interface NodeHttpOracle {
  /** Sends `bytes` on a new connection, then ends it, and reports what node parsed from them. */
  send(bytes: Buffer): Promise<OracleOutcome>;
  close(): Promise<void>;
}

/** How long one connection may take before it is cut: a case needs a millisecond or two. */
const CASE_TIMEOUT_MS = 2000;

/**
 * Starts the oracle: node's own HTTP server with its default limits (16 KiB of headers, Host required),
 * answering each request with an empty 200 once its body has arrived.
 */
export async function startNodeHttpOracle(): Promise<NodeHttpOracle> {
  // By the server side's remote port, which is the client side's local port.
  const outcomes = new Map<number, OracleOutcome>();
  const server: Server = createServer((req, res) => {
    const outcome = outcomes.get(req.socket.remotePort ?? -1);
    const request: OracleRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      rawHeaders: req.rawHeaders,
      body: '',
      isComplete: false,
    };
    outcome?.requests.push(request);
    req.on('data', (chunk: Buffer) => {
      request.body += chunk.toString('latin1');
    });
    req.on('end', () => {
      request.isComplete = true;
      res.end();
    });
  });
  server.on('connection', (socket: Socket) => {
    outcomes.set(socket.remotePort ?? -1, { requests: [], clientError: undefined, hasTimedOut: false });
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const outcome = outcomes.get(socket.remotePort ?? -1);
    if (outcome !== undefined) outcome.clientError = error.code ?? error.message;
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    async send(bytes) {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const localPort = socket.localPort ?? -1;
      socket.on('error', () => {});
      socket.resume();
      socket.end(bytes);
      const timer = setTimeout(() => socket.destroy(), CASE_TIMEOUT_MS);
      const startedAt = performance.now();
      await once(socket, 'close');
      clearTimeout(timer);
      // The server saw everything before it closed its side: its events ran before this `close`.
      await new Promise((resolve) => setImmediate(resolve));
      const outcome = outcomes.get(localPort) ?? {
        requests: [],
        clientError: 'NO_CONNECTION',
        hasTimedOut: false,
      };
      outcomes.delete(localPort);
      outcome.hasTimedOut = performance.now() - startedAt >= CASE_TIMEOUT_MS;
      return outcome;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
