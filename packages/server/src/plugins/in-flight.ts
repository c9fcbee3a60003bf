import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { gatewayError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** True once `close()` began: the server accepts no new connections and finishes the requests it has. */
    isDraining: boolean;
    /** Requests received and not yet answered by this process (health probes included). */
    inFlight: () => number;
  }
}

/** How often, while draining, connections without a request in progress are closed. */
const SWEEP_INTERVAL_MS = 100;

/**
 * Requests in flight: counted for backpressure (plugins/load.ts), and waited for when draining. One
 * listener per request, on the raw response's `close`, which fires exactly once however a response ends
 * (sent, aborted, streamed).
 *
 * Draining on close. The server stops accepting connections; requests in progress finish; every other
 * connection is closed so that `close()` does not wait for keep-alive timeouts:
 * - responses sent while draining carry `Connection: close`, so a connection ends with its last response;
 * - requests arriving on kept-alive connections are answered `503 CG_ERR_SHUTTING_DOWN` (Fastify's built-in
 *   503 is off), with `Cachegate-Executed: no`;
 * - connections with no request in progress are closed now and every 100 ms until the server is closed,
 *   including ones that never sent a complete request, which Node's own idle sweep leaves open.
 */
async function inFlightPlugin(app: FastifyInstance) {
  app.decorate('isDraining', false);
  let inFlight = 0;
  app.decorate('inFlight', () => inFlight);
  const busy = new WeakSet<Socket>();
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Before Fastify's own listener, so that the onRequest hooks of a request already count it.
  app.server.prependListener('request', (request, response) => {
    inFlight++;
    busy.add(request.socket);
    response.once('close', () => {
      inFlight--;
      busy.delete(request.socket);
    });
  });
  const sweep = () => {
    for (const socket of sockets) if (!busy.has(socket)) socket.destroy();
  };
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook('preClose', (done) => {
    app.isDraining = true;
    sweeper = setInterval(sweep, SWEEP_INTERVAL_MS);
    setImmediate(sweep);
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    clearInterval(sweeper);
    done();
  });
  app.addHook('onSend', (_request, reply, _payload, done) => {
    if (app.isDraining) reply.header('connection', 'close');
    done();
  });
  app.addHook('onRequest', (request, _reply, done) => {
    if (app.isDraining && !request.routeOptions.config.public)
      return done(gatewayError('CG_ERR_SHUTTING_DOWN'));
    done();
  });
}

export default fp(inFlightPlugin, { name: 'in-flight' });
