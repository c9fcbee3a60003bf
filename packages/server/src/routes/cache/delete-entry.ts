import type { FastifyInstance } from 'fastify';
import { keyFromUrl } from './key.js';
import { expectReply } from './reply.js';
import { cacheErrors, keyParams } from './schemas.js';

/** `DELETE /v1/cache/:key` -> `200 {"deleted": 0|1}`; deleting a missing key is not an error. */
async function deleteEntryRoute(app: FastifyInstance) {
  app.delete(
    '/v1/cache/*',
    {
      schema: {
        summary: 'Delete an entry',
        tags: ['cache'],
        params: keyParams,
        response: {
          200: {
            type: 'object',
            required: ['deleted'],
            additionalProperties: false,
            properties: { deleted: { type: 'integer', enum: [0, 1] } },
          },
          ...cacheErrors,
        },
      },
    },
    async (request) => {
      const key = keyFromUrl(request.url, app.config.maxKeyBytes);
      const { replies } = await app.executor.run(request.principal, 'pipeline', [['DEL', key]]);
      return { deleted: expectReply(replies[0]) };
    },
  );
}

export default deleteEntryRoute;
