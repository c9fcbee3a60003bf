import { gatewayError } from '../../errors.js';
import type { Route } from '../../http/router.js';
import type { Command } from '../../redis/types.js';
import type { Services } from '../services.js';
import { mgetBody, msetBody } from './body.js';
import { expectReply, storedJson } from './reply.js';
import { cacheErrors, ttlSchema, valueSchema } from './schemas.js';
import { encodeValue } from './value.js';

/**
 * Batch reads and writes:
 * - `POST /v1/cache/mget` `{"keys": [...]}` -> `{"entries": [{"key", "found", "value"?}]}` in request order;
 * - `POST /v1/cache/mset` `{"entries": [{"key", "value", "ttl"?}]}` -> `{"stored": n}`, atomically
 *   (one MULTI/EXEC), each entry with its own TTL.
 */
export function batchRoutes({ config, executor }: Services): Route[] {
  const limits = {
    maxKeyBytes: config.maxKeyBytes,
    maxItems: config.maxPipeline,
    maxJsonDepth: config.maxJsonDepth,
  };
  const maxItems = config.maxPipeline;
  const tags = ['cache'];
  return [
    {
      path: '/v1/cache/mget',
      operations: {
        POST: {
          handle: async (ctx) => {
            const keys = mgetBody(ctx.body, limits);
            const { replies } = await executor.run(
              ctx.caller,
              'pipeline',
              [['MGET', ...keys]],
              'text',
              ctx.answer,
            );
            if (ctx.isGone) return;
            const max = ctx.answer.budget.maxPerAnswer;
            const values = expectReply(replies[0]);
            if (!Array.isArray(values)) throw gatewayError('CG_ERR_INTERNAL', 'MGET did not return an array');
            let body = '{"entries":[';
            for (let i = 0; i < keys.length; i++) {
              const key = JSON.stringify(keys[i]);
              const value = values[i];
              if (i > 0) body += ',';
              body +=
                value === null || value === undefined
                  ? `{"key":${key},"found":false}`
                  : `{"key":${key},"found":true,"value":${storedJson(value, max - body.length)}}`;
            }
            ctx.send(200, `${body}]}`);
          },
          doc: {
            summary: 'Read many entries',
            tags,
            requestBody: {
              type: 'object',
              required: ['keys'],
              additionalProperties: false,
              properties: { keys: { type: 'array', minItems: 1, maxItems, items: { type: 'string' } } },
            },
            responses: {
              200: {
                schema: {
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
                        properties: {
                          key: { type: 'string' },
                          found: { type: 'boolean' },
                          value: valueSchema,
                        },
                      },
                    },
                  },
                },
              },
              ...cacheErrors,
            },
          },
        },
      },
    },
    {
      path: '/v1/cache/mset',
      operations: {
        POST: {
          handle: async (ctx) => {
            const commands = msetBody(ctx.body, limits).map(({ key, value, ttl }): Command => {
              const command: Command = ['SET', key, encodeValue(value)];
              if (ttl !== undefined) command.push('EX', String(ttl));
              return command;
            });
            const { replies } = await executor.run(ctx.caller, 'transaction', commands, 'bytes', ctx.answer);
            for (const reply of replies) expectReply(reply);
            ctx.send(200, `{"stored":${replies.length}}`);
          },
          doc: {
            summary: 'Store many entries atomically',
            tags,
            requestBody: {
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
            responses: {
              200: {
                schema: {
                  type: 'object',
                  required: ['stored'],
                  additionalProperties: false,
                  properties: { stored: { type: 'integer', minimum: 1 } },
                },
              },
              ...cacheErrors,
            },
          },
        },
      },
    },
  ];
}
