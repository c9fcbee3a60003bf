import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { gatewayError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** True once `close()` began: the server accepts no new connections and finishes the requests it has. */
    isDraining: boolean;
  }
}

/**
 * Draining on close. Fastify stops accepting connections and answers new requests on open ones with 503,
 * but a keep-alive connection whose request was in flight would stay open after its response and hold
 * `close()` until the keep-alive timeout. Responses sent while draining therefore carry
 * `Connection: close`, so every connection ends with its last response.
 */
async function gracefulShutdownPlugin(app: FastifyInstance) {
  app.decorate('isDraining', false);
  app.addHook('preClose', (done) => {
    app.isDraining = true;
    done();
  });
  app.addHook('onSend', (_request, reply, _payload, done) => {
    if (app.isDraining) reply.header('connection', 'close');
    done();
  });
  // A request that arrives on a kept-alive connection after close() began is turned away in the gateway's
  // own error format (Fastify's built-in 503 is off), with Connection: close and Cachegate-Executed: no.
  app.addHook('onRequest', (request, _reply, done) => {
    if (app.isDraining && !request.routeOptions.config.public)
      return done(gatewayError('CG_ERR_SHUTTING_DOWN'));
    done();
  });
}

export default fp(gracefulShutdownPlugin, { name: 'graceful-shutdown' });
