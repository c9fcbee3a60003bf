import type { FastifyInstance } from 'fastify';
import { checkJsonText, parseJsonBody } from '../json-body.js';
import { methodNotAllowed } from '../method-not-allowed.js';
import batchRoutes from './batch.js';
import deleteEntryRoute from './delete-entry.js';
import getEntryRoute from './get-entry.js';
import putEntryRoute from './put-entry.js';
import { cacheErrorSchema, cacheErrors } from './schemas.js';

/**
 * The cache API (`/v1/cache`): the seed's get/set/delete for curl and other languages, as thin adapters
 * that turn each request into commands for the shared executor. Bodies are JSON whatever their
 * Content-Type; they are validated by the routes' JSON schemas.
 */
async function cacheRoutes(app: FastifyInstance) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      const { value, text } = parseJsonBody(body);
      checkJsonText(text, app.config.maxJsonDepth);
      done(null, value);
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  await app.register(getEntryRoute);
  await app.register(putEntryRoute);
  await app.register(deleteEntryRoute);
  await app.register(batchRoutes);
  app.route({
    method: ['POST', 'PATCH'],
    url: '/v1/cache/*',
    schema: { summary: 'Not allowed', tags: ['cache'], response: { ...cacheErrors, 405: cacheErrorSchema } },
    handler: methodNotAllowed('GET, PUT, DELETE'),
  });
}

export default cacheRoutes;
