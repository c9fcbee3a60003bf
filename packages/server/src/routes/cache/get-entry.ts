import type { FastifyInstance } from 'fastify';
import { gatewayError } from '../../errors.js';
import { keyFromUrl } from './key.js';
import { expectReply, JSON_TYPE, storedJson } from './reply.js';
import { cacheErrors, entrySchema, keyParams } from './schemas.js';

/**
 * `GET /v1/cache/:key` -> `200 {"key", "value", "ttl"}` (ttl in seconds, null when the key never expires),
 * or 404 when the key does not exist. The value is the stored JSON, decoded.
 */
async function getEntryRoute(app: FastifyInstance) {
  app.get(
    '/v1/cache/*',
    {
      schema: {
        summary: 'Read an entry',
        tags: ['cache'],
        params: keyParams,
        response: {
          200: entrySchema,
          ...cacheErrors,
          404: { ...cacheErrors[400], description: 'No such key' },
        },
      },
    },
    async (request, reply) => {
      const key = keyFromUrl(request.url, app.config.maxKeyBytes);
      const { replies } = await app.executor.run(request.principal, 'pipeline', [
        ['GET', key],
        ['TTL', key],
      ]);
      const stored = expectReply(replies[0]);
      const ttl = expectReply(replies[1]);
      // TTL -2: the key expired between the two commands.
      if (stored === null || ttl === -2)
        throw gatewayError('CG_ERR_KEY_NOT_FOUND', `No entry for key "${key}"`);
      const seconds = typeof ttl === 'number' && ttl >= 0 ? ttl : null;
      return reply
        .type(JSON_TYPE)
        .send(`{"key":${JSON.stringify(key)},"value":${storedJson(stored)},"ttl":${seconds}}`);
    },
  );
}

export default getEntryRoute;
