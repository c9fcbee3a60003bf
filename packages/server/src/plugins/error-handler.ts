import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { GatewayError, gatewayError } from '../errors.js';

/**
 * The one error handler. Catalog errors pass through as they are; Fastify's own request errors (body too
 * large, malformed headers) are mapped to catalog codes; anything else is a bug: logged with its stack and
 * answered with a generic 500 that leaks nothing.
 *
 * Upstash routes answer `{"error": "<message>"}`; cache routes (`/v1/...`) answer
 * `{"error": {"code", "message", "requestId"}}`.
 */
async function errorHandlerPlugin(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = toGatewayError(error, request.server.config.maxBodyBytes);
    if (known.statusCode >= 500 && known.code === 'CG_ERR_INTERNAL') {
      request.log.error({ err: error }, 'unhandled error');
    }
    return sendError(request, reply, known);
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      gatewayError('CG_ERR_ROUTE_NOT_FOUND', `No route for ${request.method} ${pathOf(request.url)}`),
    ),
  );
}

/** Writes a catalog error in the format of the route family the request addressed. */
function sendError(request: FastifyRequest, reply: FastifyReply, error: GatewayError): FastifyReply {
  request.server.metrics.errorAnswered(error.code);
  reply.code(error.statusCode).header('x-request-id', request.id);
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
  if (error.statusCode === 401) reply.header('www-authenticate', 'Bearer');
  if (!error.mayHaveRun) reply.header('cachegate-executed', 'no');
  const body = isCacheApi(request.url)
    ? { error: { code: error.code, message: error.message, requestId: request.id } }
    : { error: error.message };
  return reply.send(body);
}

function toGatewayError(error: FastifyError, maxBodyBytes: number): GatewayError {
  if (error instanceof GatewayError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return gatewayError(
        'CG_ERR_BODY_TOO_LARGE',
        `Request body is larger than ${maxBodyBytes} bytes (CACHEGATE_MAX_BODY_BYTES)`,
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return gatewayError('CG_ERR_REQUEST_INVALID', 'Content-Length does not match the body');
  }
  if (
    error.validation !== undefined ||
    (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)
  ) {
    return gatewayError('CG_ERR_REQUEST_INVALID', error.message);
  }
  return gatewayError('CG_ERR_INTERNAL');
}

/**
 * For Fastify's `frameworkErrors` option: errors raised before routing (a malformed URL), answered in the
 * same formats as everything else.
 */
export function answerFrameworkError(_error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const code = isCacheApi(request.url) ? 'CG_ERR_KEY_INVALID' : 'CG_ERR_REQUEST_INVALID';
  // Never echo the URL: its query may carry `_token`.
  return sendError(request, reply, gatewayError(code, 'Malformed URL: it is not valid percent-encoding'));
}

const isCacheApi = (url: string) => url.startsWith('/v1/');
const pathOf = (url: string) => url.split('?', 1)[0] ?? url;

export default fp(errorHandlerPlugin, { name: 'error-handler' });
