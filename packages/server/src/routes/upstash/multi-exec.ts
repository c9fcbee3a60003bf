import type { FastifyInstance } from 'fastify';
import { parseJsonBody } from '../json-body.js';
import { methodNotAllowed } from '../method-not-allowed.js';
import {
  commandListSchema,
  commonResponses,
  encodingHeader,
  errorResponseSchema,
  itemsResponseSchema,
} from './schemas.js';
import { sendItems, toCommandList } from './wire.js';

/**
 * `POST /multi-exec`: the commands run atomically inside MULTI/EXEC. The gateway writes the whole block in
 * one go on its connection, so concurrent transactions never interleave or nest. Commands that fail at run
 * time are `{"error"}` items; a transaction Redis discards (EXECABORT) is a 400 for the whole request.
 */
async function multiExecRoute(app: FastifyInstance) {
  const schema = {
    summary: 'Run many commands atomically (MULTI/EXEC)',
    tags: ['commands'],
    headers: encodingHeader,
    body: commandListSchema,
    response: { 200: itemsResponseSchema, ...commonResponses },
  };
  app.post('/multi-exec', { schema }, async (request, reply) => {
    const commands = toCommandList(parseJsonBody(request.body), app.config.maxPipeline, '/multi-exec');
    return sendItems(request, reply, await app.executor.run(request.principal, 'transaction', commands));
  });
  app.route({
    method: ['GET', 'PUT', 'DELETE', 'PATCH'],
    url: '/multi-exec',
    schema: {
      summary: 'Not allowed',
      tags: ['commands'],
      response: { ...commonResponses, 405: errorResponseSchema },
    },
    handler: methodNotAllowed('POST'),
  });
}

export default multiExecRoute;
