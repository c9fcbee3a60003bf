import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * One log line per request, written when the response is done: request id, method, route pattern, status,
 * duration and token name. Never the URL's query (it may hold `_token`), headers, keys or values.
 */
async function requestLogPlugin(app: FastifyInstance) {
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(no route)',
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        token: request.principal?.name,
      },
      'request',
    );
    done();
  });
  app.addHook('onSend', (request, reply, _payload, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
}

export default fp(requestLogPlugin, { name: 'request-log' });
