import { gatewayError } from '../../errors.js';
import type { RequestContext } from '../../http/context.js';
import type { Route } from '../../http/router.js';
import type { Command } from '../../redis/types.js';
import { ifNoneMatchHeader, withValidators } from '../conditional.js';
import type { Services } from '../services.js';
import { commandSchema, commonResponses, encodingHeader, singleResponseSchema } from './schemas.js';
import { commandFromBody, replyFormOf, sendSingle } from './wire.js';

/**
 * One command per request, in the two forms of the Upstash REST API:
 * - `POST /` with a JSON array body: `["SET", "key", "value", "EX", 60]`;
 * - the path form `GET|POST /set/key/value?EX=60`: URL-decoded segments, then query parameters as
 *   `NAME value` pairs (`_token` excepted), then a non-empty POST body as the last argument, byte for byte.
 * @see https://upstash.com/docs/redis/features/restapi
 */
export function commandRoutes({ executor, syncToken }: Services): Route[] {
  const responses = { 200: { description: 'The reply', schema: singleResponseSchema }, ...commonResponses };
  const run = async (ctx: RequestContext, command: Command, isConditional = false) => {
    const form = replyFormOf(ctx, true);
    const seen = syncToken.seen(ctx.req.headers['upstash-sync-token']);
    const batch = await executor.run(ctx.caller, 'pipeline', [command], form, ctx.answer, seen);
    await sendSingle(ctx, syncToken, batch, form, isConditional);
  };
  const pathForm = {
    handle: (ctx: RequestContext) => run(ctx, commandFromUrl(ctx.path, ctx.query, ctx.body)),
    doc: {
      summary: 'Run one command, path form',
      description:
        'GET|POST /{command}/{arg1}/{arg2}...: URL-decoded path segments, then each query parameter as NAME value ' +
        '(?EX=60 appends EX 60; _token is not passed on), then a non-empty POST body as the last argument, byte for byte.',
      tags: ['commands'],
      headers: encodingHeader,
      responses,
    },
  };
  return [
    {
      path: '/',
      operations: {
        POST: {
          handle: (ctx) => run(ctx, commandFromBody(ctx)),
          doc: {
            summary: 'Run one command',
            tags: ['commands'],
            headers: encodingHeader,
            requestBody: commandSchema,
            responses,
          },
        },
      },
      documentedNotAllowed: ['GET'],
    },
    {
      path: '/*',
      openapiPath: '/{command}',
      operations: {
        GET: {
          handle: (ctx) => run(ctx, commandFromUrl(ctx.path, ctx.query, ctx.body), true),
          doc: {
            ...pathForm.doc,
            description: `${pathForm.doc.description} With GET, a command that does not write is answered with an ETag (see If-None-Match).`,
            headers: { properties: { ...encodingHeader.properties, ...ifNoneMatchHeader } },
            responses: withValidators(responses),
          },
        },
        POST: {
          ...pathForm,
          doc: {
            ...pathForm.doc,
            requestBody: { type: 'string', format: 'binary', description: 'The last argument, raw bytes' },
          },
        },
      },
      documentedNotAllowed: ['PUT', 'DELETE', 'PATCH'],
    },
  ];
}

/** Builds the command of a path-form request from its raw path and query (so `%2F` stays inside its segment). */
export function commandFromUrl(path: string, query: string, body: Buffer | undefined): Command {
  const command: Command = path.slice(1).split('/').map(decodeSegment);
  if (query !== '') {
    for (const [name, value] of new URLSearchParams(query)) {
      if (name === '_token') continue;
      command.push(name);
      if (value !== '') command.push(value);
    }
  }
  if (body !== undefined && body.length > 0) command.push(body);
  return command;
}

function decodeSegment(segment: string, index: number): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    // Not echoed: a segment may be a value the caller would not want in an error log.
    throw gatewayError('CG_ERR_REQUEST_INVALID', `Malformed percent-encoding in path segment ${index + 1}`);
  }
}
