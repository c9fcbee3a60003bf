import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with one request. */
export type ProxyAction =
  /** Forwards to the target (after `delayMs`) and relays the answer. */
  | { kind: 'forward'; delayMs?: number }
  /** Answers itself, without contacting the target. */
  | { kind: 'respond'; status: number; body?: unknown; headers?: Record<string, string> }
  /** Reads the request, then resets the connection: the request reached "the gateway", nothing ran. */
  | { kind: 'drop' }
  /**
   * Forwards the request, waits until the gateway has executed it and answered, then resets the client's
   * connection instead of relaying the answer: a gateway that died after running the command.
   */
  | { kind: 'forward-then-drop' };

/** One request as the proxy saw it. */
export interface ProxiedRequest {
  method: string;
  path: string;
  body: string;
}

/** A real HTTP server on 127.0.0.1 in front of a gateway, recording every request. */
export interface TestProxy {
  url: string;
  port: number;
  requests: ProxiedRequest[];
  /** Changes what happens to the next requests; `index` counts requests from 0. */
  behave(decide: (request: ProxiedRequest, index: number) => ProxyAction): void;
  close(): Promise<void>;
}

const RELAYED_HEADERS = ['authorization', 'content-type', 'upstash-encoding'];

/** Starts a proxy to `target` (a gateway URL) on `port` (default: any free port). */
export async function startProxy(target: string, port = 0): Promise<TestProxy> {
  const requests: ProxiedRequest[] = [];
  let decide: (request: ProxiedRequest, index: number) => ProxyAction = () => ({ kind: 'forward' });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      body: Buffer.concat(chunks).toString(),
    };
    requests.push(request);
    const action = decide(request, requests.length - 1);
    if (action.kind === 'drop') return void req.socket.resetAndDestroy();
    if (action.kind === 'respond') {
      res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
      return void res.end(JSON.stringify(action.body ?? { error: `proxy answered ${action.status}` }));
    }
    if (action.kind === 'forward' && action.delayMs)
      await new Promise((done) => setTimeout(done, action.delayMs));
    const headers: Record<string, string> = {};
    for (const name of RELAYED_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const upstream = await fetch(`${target}${request.path}`, {
      method: request.method,
      headers,
      ...(request.method === 'GET' ? {} : { body: request.body }),
    });
    const text = await upstream.text();
    if (action.kind === 'forward-then-drop') return void req.socket.resetAndDestroy();
    const relayed: Record<string, string> = {
      'content-type': upstream.headers.get('content-type') ?? 'text/plain',
    };
    const retryAfter = upstream.headers.get('retry-after');
    if (retryAfter !== null) relayed['retry-after'] = retryAfter;
    res.writeHead(upstream.status, relayed);
    res.end(text);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    requests,
    behave(next) {
      decide = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
