import type { FastifyInstance } from 'fastify';
import type { ExecutionMode } from '../../redis/executor.js';
import { methodNotAllowed } from '../method-not-allowed.js';
import {
  commandListSchema,
  commonResponses,
  encodingHeader,
  errorResponseSchema,
  itemsResponseSchema,
} from './schemas.js';
import { commandsFromBody, sendItems } from './wire.js';

/**
 * Registers a route that takes a JSON array of commands (`/pipeline`, `/multi-exec`): POST runs them in
 * `mode` and answers one item per command; other methods get 405.
 */
export function registerBatchRoute(app: FastifyInstance, url: string, mode: ExecutionMode, summary: string) {
  const schema = {
    summary,
    tags: ['commands'],
    headers: encodingHeader,
    body: commandListSchema,
    response: { 200: itemsResponseSchema, ...commonResponses },
  };
  app.post(url, { schema }, async (request, reply) => {
    const commands = commandsFromBody(request.body, app.config.maxPipeline, url);
    return sendItems(request, reply, await app.executor.run(request.principal, mode, commands));
  });
  app.route({
    method: ['GET', 'PUT', 'DELETE', 'PATCH'],
    url,
    schema: {
      summary: 'Not allowed',
      tags: ['commands'],
      response: { ...commonResponses, 405: errorResponseSchema },
    },
    handler: methodNotAllowed('POST'),
  });
}
