import { gatewayError } from '../../errors.js';
import type { RequestContext } from '../../http/context.js';
import type { Route } from '../../http/router.js';
import type { Command } from '../../redis/types.js';
import { ifNoneMatchHeader, withValidators } from '../conditional.js';
import type { Services } from '../services.js';
import { putBody } from './body.js';
import { keyFromPath } from './key.js';
import { expectReply, storedJson } from './reply.js';
import { cacheErrors, entrySchema, notFound, ttlSchema, valueSchema } from './schemas.js';
import { encodeValue } from './value.js';

/**
 * `/v1/cache/:key`, the seed's get/set/delete for curl and other languages, as thin adapters that turn each
 * request into commands for the shared executor:
 * - `GET` -> `200 {"key", "value", "ttl"}` (ttl in seconds, null when the key never expires), or 404;
 * - `PUT` with `{"value": <any JSON>, "ttl"?: seconds}` stores the value as JSON text, the same bytes the
 *   SDK writes, and answers `200 {"key", "ttl"}`;
 * - `DELETE` -> `200 {"deleted": 0|1}`; deleting a missing key is not an error.
 */
export function entryRoute({ config, executor }: Services): Route {
  const limits = {
    maxKeyBytes: config.maxKeyBytes,
    maxItems: config.maxPipeline,
    maxJsonDepth: config.maxJsonDepth,
  };
  const keyOf = (ctx: RequestContext) => keyFromPath(ctx.path, config.maxKeyBytes);

  async function read(ctx: RequestContext) {
    const key = keyOf(ctx);
    const { replies } = await executor.run(
      ctx.caller,
      'pipeline',
      [
        ['GET', key],
        ['TTL', key],
      ],
      'text',
      ctx.answer,
    );
    if (ctx.isGone) return;
    const stored = expectReply(replies[0]);
    const ttl = expectReply(replies[1]);
    // TTL -2: the key expired between the two commands.
    if (stored === null || ttl === -2)
      throw gatewayError('CG_ERR_KEY_NOT_FOUND', `No entry for key "${key}"`);
    const seconds = typeof ttl === 'number' && ttl >= 0 ? ttl : null;
    const value = storedJson(stored, ctx.answer.budget.maxPerAnswer);
    ctx.sendValidated(200, `{"key":${JSON.stringify(key)},"value":${value},"ttl":${seconds}}`);
  }

  async function write(ctx: RequestContext) {
    const key = keyOf(ctx);
    const { value, ttl } = putBody(ctx.body, limits);
    const command: Command = ['SET', key, encodeValue(value)];
    if (ttl !== undefined) command.push('EX', String(ttl));
    const { replies } = await executor.run(ctx.caller, 'pipeline', [command], 'bytes', ctx.answer);
    expectReply(replies[0]);
    ctx.send(200, JSON.stringify({ key, ttl: ttl ?? null }));
  }

  async function remove(ctx: RequestContext) {
    const key = keyOf(ctx);
    const { replies } = await executor.run(ctx.caller, 'pipeline', [['DEL', key]], 'bytes', ctx.answer);
    ctx.send(200, `{"deleted":${String(expectReply(replies[0]))}}`);
  }

  const tags = ['cache'];
  return {
    path: '/v1/cache/*',
    openapiPath: '/v1/cache/{key}',
    operations: {
      GET: {
        handle: read,
        doc: {
          summary: 'Read an entry',
          description:
            'The 200 carries an ETag of its body (value and ttl); If-None-Match with that ETag answers 304 with no body.',
          tags,
          headers: { properties: ifNoneMatchHeader },
          responses: withValidators({ 200: { schema: entrySchema }, ...cacheErrors, 404: notFound }),
        },
      },
      PUT: {
        handle: write,
        doc: {
          summary: 'Store an entry',
          tags,
          requestBody: {
            type: 'object',
            required: ['value'],
            additionalProperties: false,
            properties: { value: valueSchema, ttl: ttlSchema },
          },
          responses: {
            200: {
              schema: {
                type: 'object',
                required: ['key', 'ttl'],
                additionalProperties: false,
                properties: { key: { type: 'string' }, ttl: { type: ['integer', 'null'] } },
              },
            },
            ...cacheErrors,
          },
        },
      },
      DELETE: {
        handle: remove,
        doc: {
          summary: 'Delete an entry',
          tags,
          responses: {
            200: {
              schema: {
                type: 'object',
                required: ['deleted'],
                additionalProperties: false,
                properties: { deleted: { type: 'integer', enum: [0, 1] } },
              },
            },
            ...cacheErrors,
          },
        },
      },
    },
    documentedNotAllowed: ['POST', 'PATCH'],
  };
}
