import { encodeValue } from '@cachegate/client';
import type { FastifyInstance } from 'fastify';
import { gatewayError } from '../../errors.js';
import type { Command } from '../../redis/types.js';
import { checkKey } from './key.js';
import { expectReply, JSON_TYPE, storedJson } from './reply.js';
import { cacheErrors, ttlSchema, valueSchema } from './schemas.js';

interface MgetBody {
  keys: string[];
}
interface MsetBody {
  entries: { key: string; value: unknown; ttl?: number }[];
}

/**
 * Batch reads and writes:
 * - `POST /v1/cache/mget` `{"keys": [...]}` -> `{"entries": [{"key", "found", "value"?}]}` in request order;
 * - `POST /v1/cache/mset` `{"entries": [{"key", "value", "ttl"?}]}` -> `{"stored": n}`, atomically
 *   (one MULTI/EXEC), each entry with its own TTL.
 */
async function batchRoutes(app: FastifyInstance) {
  const maxItems = app.config.maxPipeline;

  app.post<{ Body: MgetBody }>(
    '/v1/cache/mget',
    {
      schema: {
        summary: 'Read many entries',
        tags: ['cache'],
        body: {
          type: 'object',
          required: ['keys'],
          additionalProperties: false,
          properties: { keys: { type: 'array', minItems: 1, maxItems, items: { type: 'string' } } },
        },
        response: {
          200: {
            type: 'object',
            required: ['entries'],
            additionalProperties: false,
            properties: {
              entries: {
                type: 'array',
                description: 'One per requested key, in request order; "value" only when "found"',
                items: {
                  type: 'object',
                  required: ['key', 'found'],
                  additionalProperties: false,
                  properties: { key: { type: 'string' }, found: { type: 'boolean' }, value: valueSchema },
                },
              },
            },
          },
          ...cacheErrors,
        },
      },
    },
    async (request, reply) => {
      const keys = request.body.keys.map((key) => checkKey(key, app.config.maxKeyBytes));
      const { replies } = await app.executor.run(request.principal, 'pipeline', [['MGET', ...keys]]);
      const values = expectReply(replies[0]);
      if (!Array.isArray(values)) throw gatewayError('CG_ERR_INTERNAL', 'MGET did not return an array');
      const entries = keys.map((key, i) =>
        values[i] === null
          ? `{"key":${JSON.stringify(key)},"found":false}`
          : `{"key":${JSON.stringify(key)},"found":true,"value":${storedJson(values[i])}}`,
      );
      return reply.type(JSON_TYPE).send(`{"entries":[${entries.join(',')}]}`);
    },
  );

  app.post<{ Body: MsetBody }>(
    '/v1/cache/mset',
    {
      schema: {
        summary: 'Store many entries atomically',
        tags: ['cache'],
        body: {
          type: 'object',
          required: ['entries'],
          additionalProperties: false,
          properties: {
            entries: {
              type: 'array',
              minItems: 1,
              maxItems,
              items: {
                type: 'object',
                required: ['key', 'value'],
                additionalProperties: false,
                properties: { key: { type: 'string' }, value: valueSchema, ttl: ttlSchema },
              },
            },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['stored'],
            additionalProperties: false,
            properties: { stored: { type: 'integer', minimum: 1 } },
          },
          ...cacheErrors,
        },
      },
    },
    async (request) => {
      const commands = request.body.entries.map(({ key, value, ttl }): Command => {
        const command: Command = ['SET', checkKey(key, app.config.maxKeyBytes), encodeValue(value)];
        if (ttl !== undefined) command.push('EX', String(ttl));
        return command;
      });
      const { replies } = await app.executor.run(request.principal, 'transaction', commands);
      for (const reply of replies) expectReply(reply);
      return { stored: replies.length };
    },
  );
}

export default batchRoutes;
