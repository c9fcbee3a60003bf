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
 * `POST /pipeline`: many commands in one request, sent to Redis back to back without waiting in between.
 * Not atomic: each command succeeds or fails on its own, and a failure never stops the rest.
 */
async function pipelineRoute(app: FastifyInstance) {
  const schema = {
    summary: 'Run many commands, pipelined',
    tags: ['commands'],
    headers: encodingHeader,
    body: commandListSchema,
    response: { 200: itemsResponseSchema, ...commonResponses },
  };
  app.post('/pipeline', { schema }, async (request, reply) => {
    const commands = toCommandList(parseJsonBody(request.body), app.config.maxPipeline, '/pipeline');
    return sendItems(request, reply, await app.executor.run(request.principal, 'pipeline', commands));
  });
  app.route({
    method: ['GET', 'PUT', 'DELETE', 'PATCH'],
    url: '/pipeline',
    schema: {
      summary: 'Not allowed',
      tags: ['commands'],
      response: { ...commonResponses, 405: errorResponseSchema },
    },
    handler: methodNotAllowed('POST'),
  });
}

export default pipelineRoute;
