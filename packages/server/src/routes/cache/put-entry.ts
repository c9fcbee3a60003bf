import { encodeValue } from '@cachegate/client';
import type { FastifyInstance } from 'fastify';
import type { Command } from '../../redis/types.js';
import { keyFromUrl } from './key.js';
import { expectReply } from './reply.js';
import { cacheErrors, keyParams, ttlSchema, valueSchema } from './schemas.js';

interface PutBody {
  value: unknown;
  ttl?: number;
}

/**
 * `PUT /v1/cache/:key` with `{"value": <any JSON>, "ttl"?: seconds}` stores the value as JSON text, the same
 * bytes the SDK writes, and answers `200 {"key", "ttl"}`.
 */
async function putEntryRoute(app: FastifyInstance) {
  app.put<{ Body: PutBody }>(
    '/v1/cache/*',
    {
      schema: {
        summary: 'Store an entry',
        tags: ['cache'],
        params: keyParams,
        body: {
          type: 'object',
          required: ['value'],
          additionalProperties: false,
          properties: { value: valueSchema, ttl: ttlSchema },
        },
        response: {
          200: {
            type: 'object',
            required: ['key', 'ttl'],
            additionalProperties: false,
            properties: { key: { type: 'string' }, ttl: { type: ['integer', 'null'] } },
          },
          ...cacheErrors,
        },
      },
    },
    async (request) => {
      const key = keyFromUrl(request.url, app.config.maxKeyBytes);
      const { value, ttl } = request.body;
      const command: Command = ['SET', key, encodeValue(value)];
      if (ttl !== undefined) command.push('EX', String(ttl));
      const { replies } = await app.executor.run(request.principal, 'pipeline', [command]);
      expectReply(replies[0]);
      return { key, ttl: ttl ?? null };
    },
  );
}

export default putEntryRoute;
